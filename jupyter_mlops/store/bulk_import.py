"""Whole runs written in bulk, for importers (``jupyter mlops import mlflow``).

An importer hands over finished runs — their params, tags, full metric history and artifact
rows — already validated. :func:`insert_runs` writes a batch of them with one ``executemany``
per table inside ONE transaction, so a run is either wholly in the store or absent: an
import killed at any point leaves only complete runs, and a rerun skips them
(:func:`existing_run_ids`) and goes on. Imported runs keep their source's run id (MLflow's
are 32 hex digits, like ours), which is what makes a second import add nothing.

Registered models are imported with :func:`import_model`, which keeps the source's version
numbers (``create_version`` would number them N+1) and never moves an alias already set here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from sqlalchemy import and_, select, update

from jupyter_mlops.store.engine import now, read_connection, upsert, write_connection
from jupyter_mlops.store.metric_chunks import FORMAT_VERSION
from jupyter_mlops.store.orm import (
    Artifact, AuditEvent, Experiment, LatestMetric, MetricChunk, ModelAlias, ModelVersion, Param,
    RegisteredModel, Run, Tag,
)

#: Where a run's parent is recorded by MLflow (and by this store's MLflow API).
PARENT_TAG = "mlflow.parentRunId"
#: SQLite's default limit on host parameters per statement is 32766; stay well below.
_IN_CHUNK = 900


@dataclasses.dataclass
class ImportRun:
    """One finished run to write: every value already validated by the importer.

    ``metrics`` maps a key to numpy arrays ``(values, steps, timestamps_seconds)`` in logging
    order (float64, int64, float64); ``artifacts`` are
    ``(name, digest, size, media_type)`` of blobs already in the artifact store.
    """

    id: str
    experiment: str
    name: str
    status: str
    user: str
    start_time: float
    end_time: float | None
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict
    artifacts: list[tuple[str, str, int, str]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class ImportVersion:
    """One model version to import, its model file already a blob."""

    version: int
    run_id: str | None
    digest: str
    size: int
    flavor: str
    model_class: str
    description: str | None
    user: str
    created_at: float
    details: dict


def existing_run_ids(url: str, ids: Iterable[str]) -> set[str]:
    """Which of ``ids`` are runs in the store already."""
    ids = list(ids)
    found: set[str] = set()
    with read_connection(url) as conn:
        for i in range(0, len(ids), _IN_CHUNK):
            found.update(conn.execute(select(Run.id).where(Run.id.in_(ids[i:i + _IN_CHUNK])))
                         .scalars())
    return found


def experiment_ids(url: str, names: Iterable[str]) -> dict[str, int]:
    """The id of each experiment name, created if new (one transaction); an experiment
    deleted in this store is left out (it takes no runs)."""
    names = sorted(set(names))
    with write_connection(url) as conn:
        if names:
            stmt = upsert(conn, Experiment.__table__)
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]),
                         [{"name": n, "created_at": now()} for n in names])
        rows = conn.execute(select(Experiment.id, Experiment.name, Experiment.lifecycle_stage)
                            .where(Experiment.name.in_(names))).all() if names else []
    return {name: i for i, name, stage in rows if stage != "deleted"}


def insert_runs(url: str, runs: Sequence[ImportRun], experiments: dict[str, int]) -> int:
    """Write ``runs`` (none of which may exist yet) in one transaction; return rows written.

    Parents are linked afterwards by :func:`link_parents` (a parent may come in a later
    batch, or not at all).
    """
    import numpy as np

    if not runs:
        return 0
    run_rows, params, tags, chunks, latest, arts = [], [], [], [], [], []
    for r in runs:
        run_rows.append({
            "id": r.id, "experiment_id": experiments[r.experiment], "name": r.name,
            "status": r.status, "user": r.user, "start_time": r.start_time,
            "end_time": r.end_time, "heartbeat_at": r.end_time or r.start_time,
            "parent_run_id": None, "writer": None})
        params += [{"run_id": r.id, "key": k, "value": v} for k, v in r.params.items()]
        tags += [{"run_id": r.id, "key": k, "value": v} for k, v in r.tags.items()]
        for key, (values, steps, stamps) in r.metrics.items():
            n = len(values)
            if not n:
                continue
            chunks.append({"run_id": r.id, "key": key, "n": n, "first_step": int(steps[0]),
                           "last_step": int(steps[-1]), "data": _pack(values, steps, stamps)})
            # The newest point: highest (step, timestamp), the later-logged on a tie — the
            # rule of lite.pack_latest (a stable sort keeps logging order among equals).
            i = int(np.lexsort((stamps, steps))[-1]) if n > 1 else 0
            v = float(values[i])
            latest.append({"run_id": r.id, "key": key, "value": None if v != v else v,
                           "step": int(steps[i]), "timestamp": float(stamps[i]), "count": n})
        arts += [{"run_id": r.id, "name": n, "digest": d, "size": size, "media_type": mt,
                  "kind": "artifact", "created_at": r.end_time or r.start_time}
                 for n, d, size, mt in r.artifacts]
    with write_connection(url) as conn:
        mark = "%s" if conn.dialect.name == "postgresql" else "?"
        for table, rows in ((Run, run_rows), (Param, params), (Tag, tags),
                            (MetricChunk, chunks), (LatestMetric, latest), (Artifact, arts)):
            if rows:
                # Straight to the driver's executemany: SQLAlchemy's per-row parameter
                # processing cost more than SQLite's inserts here.
                cols = list(rows[0])
                sql = (f"INSERT INTO {table.__tablename__} ({', '.join(_q(c) for c in cols)}) "
                       f"VALUES ({', '.join([mark] * len(cols))})")
                conn.exec_driver_sql(sql, [tuple(r[c] for c in cols) for r in rows])
    return len(run_rows) + len(params) + len(tags) + len(chunks) + len(latest) + len(arts)


def _q(column: str) -> str:
    return '"user"' if column == "user" else column  # a reserved word in PostgreSQL


def _pack(values, steps, stamps) -> bytes:
    """One chunk in :mod:`.metric_chunks`' format: version byte, steps, values, stamps."""
    return (bytes([FORMAT_VERSION]) + steps.astype("<i8").tobytes()
            + values.astype("<f8").tobytes() + stamps.astype("<f8").tobytes())


def link_parents(url: str, run_ids: Sequence[str]) -> int:
    """Set ``parent_run_id`` of ``run_ids`` from their MLflow parent tag where that parent
    is in the store and no parent is set yet; return how many were linked."""
    linked = 0
    with write_connection(url) as conn:
        for i in range(0, len(run_ids), _IN_CHUNK):
            part = run_ids[i:i + _IN_CHUNK]
            rows = conn.execute(
                select(Tag.run_id, Tag.value).join(Run, Run.id == Tag.run_id)
                .where(Tag.key == PARENT_TAG, Tag.run_id.in_(part),
                       Run.parent_run_id.is_(None))).all()
            parents = {v for _, v in rows}
            present = set(conn.execute(select(Run.id).where(Run.id.in_(parents))).scalars()) \
                if parents else set()
            for child, parent in rows:
                if parent in present and parent != child:
                    conn.execute(update(Run).where(Run.id == child).values(parent_run_id=parent))
                    linked += 1
    return linked


def artifact_digests(url: str, run_id: str, folder: str) -> list[tuple[str, str, int]]:
    """``(name, digest, size)`` of the run's artifacts under ``folder`` ('' for all)."""
    with read_connection(url) as conn:
        stmt = select(Artifact.name, Artifact.digest, Artifact.size).where(
            Artifact.run_id == run_id)
        if folder:
            stmt = stmt.where(Artifact.name.startswith(folder.rstrip("/") + "/", autoescape=True))
        return [tuple(r) for r in conn.execute(stmt.order_by(Artifact.name)).all()]


def import_model(url: str, name: str, *, description: str | None, created_at: float,
                 updated_at: float, versions: Sequence[ImportVersion],
                 aliases: dict[str, int], user: str
                 ) -> tuple[list[int], list[str], dict[int, str]]:
    """Import one registered model in one transaction.

    Returns ``(versions added, aliases set, {version: why it was skipped})``. A version
    number already present is left alone silently (idempotent); one this store deleted is
    not brought back (numbers are never reused); an alias already set here is never moved
    (it is this store's decision now); each added version is audited as an ``import`` with
    the source's details.
    """
    from jupyter_mlops.store.registry.versions import ModelVersions

    added: list[int] = []
    skipped: dict[int, str] = {}
    set_aliases: list[str] = []
    with write_connection(url) as conn:
        stmt = upsert(conn, RegisteredModel.__table__).values(
            name=name, description=description, gate_policy=None, created_at=created_at,
            updated_at=updated_at)
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
        model_id = conn.execute(select(RegisteredModel.id).where(RegisteredModel.name == name)
                                ).scalar_one()
        have = dict(conn.execute(select(ModelVersion.version, ModelVersion.id)
                                 .where(ModelVersion.model_id == model_id)).all())
        deleted_up_to = ModelVersions._highest_deleted(conn, name)
        for v in versions:
            if v.version in have:
                continue
            if v.version <= deleted_up_to:
                skipped[v.version] = "deleted in this store (version numbers are never reused)"
                continue
            if v.run_id is not None and conn.execute(
                    select(Run.id).where(Run.id == v.run_id)).first() is None:
                skipped[v.version] = f"its run {v.run_id} is not in this store"
                continue
            have[v.version] = conn.execute(ModelVersion.__table__.insert().values(
                model_id=model_id, version=v.version, run_id=v.run_id, digest=v.digest,
                size=v.size, flavor=v.flavor, model_class=v.model_class[:512],
                trusted_types=[], signature=None, input_example=None, metrics=None,
                description=v.description, created_by=v.user, created_at=v.created_at,
            )).inserted_primary_key[0]
            conn.execute(AuditEvent.__table__.insert().values(
                at=now(), user=user, action="import", target_type="model", target_id=name,
                details={"version": v.version, "digest": v.digest, "run_id": v.run_id,
                         **v.details}, reason="imported from MLflow"))
            added.append(v.version)
        taken = set(conn.execute(select(ModelAlias.alias).where(
            ModelAlias.model_id == model_id)).scalars())
        for alias, number in sorted(aliases.items()):
            if alias in taken or number not in have:
                continue
            conn.execute(ModelAlias.__table__.insert().values(
                model_id=model_id, alias=alias, version_id=have[number], updated_by=user,
                updated_at=now()))
            conn.execute(AuditEvent.__table__.insert().values(
                at=now(), user=user, action="set_alias", target_type="model", target_id=name,
                details={"alias": alias, "version": number}, reason="imported from MLflow"))
            set_aliases.append(alias)
        if added or set_aliases:
            conn.execute(update(RegisteredModel).where(and_(RegisteredModel.id == model_id))
                         .values(updated_at=max(updated_at, now())))
    return added, set_aliases, skipped


def model_version_numbers(url: str, name: str) -> set[int]:
    """The version numbers ``name`` has in the store (empty for an unknown model)."""
    with read_connection(url) as conn:
        return set(conn.execute(
            select(ModelVersion.version).join(RegisteredModel,
                                              RegisteredModel.id == ModelVersion.model_id)
            .where(RegisteredModel.name == name)).scalars())
