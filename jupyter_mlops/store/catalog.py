"""Artifacts, dataset versions, code snapshots and environments: what runs use and produce.

Blob bytes live in :class:`~jupyter_mlops.store.blobs.BlobStore`; this module only records
labels, hashes and metadata. A name is a label in the database, never a path.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, func, or_, select

from jupyter_mlops.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from jupyter_mlops.store.engine import now, read_connection, session, upsert, write_connection
from jupyter_mlops.store.interfaces import AbstractCatalogStore
from jupyter_mlops.store.lineage import LineageStore
from jupyter_mlops.store.orm import (
    Artifact,
    CodeSnapshot,
    DatasetVersion,
    Environment,
    LineageEdge,
    ModelVersion,
    Monitor,
    MonitorWindow,
    RegisteredModel,
    Run,
    StepRun,
)
from jupyter_mlops.store.records import (
    ArtifactRecord,
    CodeSnapshotRecord,
    DatasetVersionRecord,
    EnvironmentRecord,
)
from jupyter_mlops.store.labels import MAX_NAME, check_label  # noqa: F401 (re-exported)


#: Tries of a dataset version write that lost the race for its number to another writer.
_VERSION_ATTEMPTS = 20


def _artifact(row: Artifact) -> ArtifactRecord:
    return ArtifactRecord(row.id, row.run_id, row.name, row.digest, row.size, row.media_type,
                          row.kind, row.created_at)


def _dataset(row: DatasetVersion, role: str | None = None) -> DatasetVersionRecord:
    return DatasetVersionRecord(
        row.id, row.name, row.version, row.digest, row.source, row.size, row.row_count,
        row.schema, row.stats, row.created_at, row.created_by_run_id, role)


def _code(row: CodeSnapshot) -> CodeSnapshotRecord:
    return CodeSnapshotRecord(row.id, row.run_id, row.notebook_path, row.digest, row.git_commit,
                              row.git_branch, row.git_dirty, row.git_diff_digest, row.created_at)


class CatalogStore(AbstractCatalogStore):
    def __init__(self, url: str):
        self.url = url
        self.lineage = LineageStore(url)

    # ----------------------------------------------------------------- artifacts
    def add_artifact(self, run_id: str | None, name: str, digest: str, size: int,
                     media_type: str, kind: str = "artifact") -> ArtifactRecord:
        """Record (or re-point) ``name`` in ``run_id`` at a blob and link it in the lineage."""
        check_label(name)
        with write_connection(self.url) as conn:
            stmt = upsert(conn, Artifact.__table__)
            values = dict(run_id=run_id, name=name, digest=digest, size=size,
                          media_type=media_type, kind=kind, created_at=now())
            conn.execute(stmt.values(**values).on_conflict_do_update(
                index_elements=["run_id", "name"],
                set_={k: stmt.excluded[k] for k in ("digest", "size", "media_type", "kind",
                                                     "created_at")}))
        record = self.get_artifact(run_id, name)
        if run_id:
            self.lineage.add_edge("run", run_id, "artifact", str(record.id), "produced")
        return record

    def get_artifact(self, run_id: str | None, name: str) -> ArtifactRecord:
        with read_connection(self.url) as conn:
            row = conn.execute(select(Artifact).where(
                Artifact.run_id == run_id, Artifact.name == name)).first()
        if row is None:
            raise NotFoundError(f"Run {run_id} has no artifact named {name!r}.")
        return _artifact(row)

    def get_artifact_by_id(self, artifact_id: int) -> ArtifactRecord:
        with read_connection(self.url) as conn:
            row = conn.execute(select(Artifact).where(Artifact.id == artifact_id)).first()
        if row is None:
            raise NotFoundError(f"Artifact {artifact_id} does not exist.")
        return _artifact(row)

    def list_artifacts(self, run_id: str) -> list[ArtifactRecord]:
        with read_connection(self.url) as conn:
            rows = conn.execute(select(Artifact).where(Artifact.run_id == run_id)
                                .order_by(Artifact.name)).all()
        return [_artifact(r) for r in rows]

    def delete_artifacts(self, run_id: str, path: str = "") -> int:
        """Forget artifact ``path`` of ``run_id`` and everything below the folder ``path``
        ("": all the run's artifacts); how many were forgotten. The blobs stay until ``gc``
        finds nothing pointing at them (a model version or another run may share one), and
        the lineage edges stay, as they do for a deleted run: they are history."""
        folder = path.strip("/")
        if folder:
            check_label(folder)
        stmt = delete(Artifact).where(Artifact.run_id == run_id)
        if folder:
            stmt = stmt.where(or_(Artifact.name == folder,
                                  Artifact.name.startswith(folder + "/", autoescape=True)))
        with write_connection(self.url) as conn:
            return conn.execute(stmt).rowcount

    def referenced_digests(self) -> set[str]:
        """Every blob digest some row still points at (for garbage collection)."""
        with read_connection(self.url) as conn:
            digests = set(conn.execute(select(Artifact.digest)).scalars())
            digests |= set(conn.execute(select(CodeSnapshot.digest)).scalars())
            digests |= {d for d in conn.execute(select(CodeSnapshot.git_diff_digest)).scalars()
                        if d}
            digests |= set(conn.execute(select(ModelVersion.digest)).scalars())
            digests |= {d for d in conn.execute(select(StepRun.notebook_digest)).scalars() if d}
            digests |= set(conn.execute(select(Monitor.profile_digest)).scalars())
            digests |= {d for d in conn.execute(select(MonitorWindow.data_digest)).scalars() if d}
        return digests

    def digest_users(self, digests: Iterable[str]) -> dict[str, list[str]]:
        """For each digest, the artifacts and model versions that point at it, as phrases
        for reports ("artifact 'model.pkl' of run …", "model 'm' version 2")."""
        wanted = list(digests)
        users: dict[str, list[str]] = {d: [] for d in wanted}
        if not wanted:
            return users
        with read_connection(self.url) as conn:
            for d, run_id, name in conn.execute(select(
                    Artifact.digest, Artifact.run_id, Artifact.name).where(
                    Artifact.digest.in_(wanted)).order_by(Artifact.id)):
                users[d].append(f"artifact {name!r} of run {run_id}")
            for d, model, version in conn.execute(select(
                    ModelVersion.digest, RegisteredModel.name, ModelVersion.version).join(
                    RegisteredModel, RegisteredModel.id == ModelVersion.model_id).where(
                    ModelVersion.digest.in_(wanted))):
                users[d].append(f"model {model!r} version {version}")
        return users

    # ----------------------------------------------------------------- datasets
    def add_dataset_version(self, name: str, digest: str, *, source: str | None, size: int | None,
                            row_count: int | None, schema: dict | None, stats: dict | None,
                            run_id: str | None) -> DatasetVersionRecord:
        """Return the version of ``name`` with this content, creating version N+1 if new."""
        check_label(name, "dataset name")
        # Two writers of new content can both read the same max(version) (PostgreSQL's READ
        # COMMITTED; SQLite's BEGIN IMMEDIATE serialises them): the unique (name, version)
        # turns away the later one, which then reads again and takes the next number (or
        # finds the first writer's row, when both wrote the same content).
        fields = dict(source=source, size=size, row_count=row_count, schema=schema,
                      stats=stats, run_id=run_id)
        for _ in range(_VERSION_ATTEMPTS - 1):
            try:
                return self._add_dataset_version(name, digest, **fields)
            except AlreadyExistsError:
                continue
        return self._add_dataset_version(name, digest, **fields)  # the last try may raise

    def _add_dataset_version(self, name: str, digest: str, *, source: str | None,
                             size: int | None, row_count: int | None, schema: dict | None,
                             stats: dict | None, run_id: str | None) -> DatasetVersionRecord:
        with session(self.url) as s:
            row = s.execute(select(DatasetVersion).where(
                DatasetVersion.name == name, DatasetVersion.digest == digest)).scalars().first()
            if row is None:
                latest = s.execute(select(func.max(DatasetVersion.version))
                                   .where(DatasetVersion.name == name)).scalar() or 0
                row = DatasetVersion(
                    name=name, version=latest + 1, digest=digest, source=source, size=size,
                    row_count=row_count, schema=schema, stats=stats, created_at=now(),
                    created_by_run_id=run_id)
                s.add(row)
                s.flush()
            return _dataset(row)

    def find_dataset_version(self, name: str, digest: str) -> DatasetVersionRecord | None:
        """The version of ``name`` with this content, if recorded (what
        :meth:`add_dataset_version` would return without creating anything)."""
        with read_connection(self.url) as conn:
            row = conn.execute(select(DatasetVersion).where(
                DatasetVersion.name == name, DatasetVersion.digest == digest).limit(1)).first()
        return None if row is None else _dataset(row)

    def get_dataset(self, name: str, version: int | None = None) -> DatasetVersionRecord:
        stmt = select(DatasetVersion).where(DatasetVersion.name == name)
        stmt = (stmt.where(DatasetVersion.version == version) if version is not None
                else stmt.order_by(DatasetVersion.version.desc()))
        with read_connection(self.url) as conn:
            row = conn.execute(stmt.limit(1)).first()
        if row is None:
            which = f"version {version} of " if version is not None else ""
            raise NotFoundError(f"There is no {which}dataset {name!r}. Log it with "
                                "`%mlops dataset PATH --name NAME`.")
        return _dataset(row)

    def list_dataset_versions(self, name: str | None = None) -> list[DatasetVersionRecord]:
        stmt = select(DatasetVersion).order_by(DatasetVersion.name, DatasetVersion.version)
        if name:
            stmt = stmt.where(DatasetVersion.name == name)
        with read_connection(self.url) as conn:
            return [_dataset(r) for r in conn.execute(stmt).all()]

    def datasets_of_run(self, run_id: str) -> list[DatasetVersionRecord]:
        """Dataset versions a run used (role ``input``) or produced (role ``output``)."""
        e = LineageEdge
        with read_connection(self.url) as conn:
            used = conn.execute(select(e.src_id).where(
                e.dst_type == "run", e.dst_id == run_id, e.src_type == "dataset")).scalars().all()
            made = conn.execute(select(e.dst_id).where(
                e.src_type == "run", e.src_id == run_id, e.dst_type == "dataset")).scalars().all()
            ids = {int(i): "input" for i in used} | {int(i): "output" for i in made}
            rows = conn.execute(select(DatasetVersion).where(DatasetVersion.id.in_(ids))
                                .order_by(DatasetVersion.name)).all() if ids else []
        return [_dataset(r, ids[r.id]) for r in rows]

    # ----------------------------------------------------------------- code + environment
    def add_code_snapshot(self, run_id: str, digest: str, *, notebook_path: str | None,
                          git_commit: str | None = None, git_branch: str | None = None,
                          git_dirty: bool | None = None,
                          git_diff_digest: str | None = None) -> CodeSnapshotRecord:
        with session(self.url) as s:
            row = CodeSnapshot(run_id=run_id, notebook_path=notebook_path, digest=digest,
                               git_commit=git_commit, git_branch=git_branch, git_dirty=git_dirty,
                               git_diff_digest=git_diff_digest, created_at=now())
            s.add(row)
            s.flush()
            return _code(row)

    def code_snapshot(self, run_id: str) -> CodeSnapshotRecord | None:
        """The newest snapshot of the run's notebook, or None."""
        with read_connection(self.url) as conn:
            row = conn.execute(select(CodeSnapshot).where(CodeSnapshot.run_id == run_id)
                               .order_by(CodeSnapshot.id.desc()).limit(1)).first()
        return _code(row) if row else None

    def get_or_create_environment(self, digest: str, python: str, platform: str,
                                  packages: dict[str, str]) -> int:
        with write_connection(self.url) as conn:
            stmt = upsert(conn, Environment.__table__).values(
                digest=digest, python=python, platform=platform, packages=packages,
                created_at=now())
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["digest"]))
            return conn.execute(select(Environment.id).where(Environment.digest == digest)
                                ).scalar_one()

    def environment_of_run(self, run_id: str) -> EnvironmentRecord | None:
        with read_connection(self.url) as conn:
            row = conn.execute(select(Environment).join(Run, Run.environment_id == Environment.id)
                               .where(Run.id == run_id)).first()
        if row is None:
            return None
        return EnvironmentRecord(row.id, row.digest, row.python, row.platform, row.packages)

    def set_run_environment(self, run_id: str, environment_id: int) -> None:
        from sqlalchemy import update

        with write_connection(self.url) as conn:
            conn.execute(update(Run).where(Run.id == run_id).values(environment_id=environment_id))
