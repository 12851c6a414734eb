"""Artifacts, code snapshots, dataset lookups and lineage edges on ``sqlite3`` (issue 14).

What a pipeline step's recording writes besides its run — the executed notebook and outputs
as artifacts, the notebook snapshot, the lineage edges, the dataset versions it finds by
content — without importing SQLAlchemy, for a plain SQLite file store. The statements and
stored values are those of :class:`~jupyter_mlops.store.catalog.CatalogStore` and
:class:`~jupyter_mlops.store.lineage.LineageStore` (the same upserts; JSON as SQLAlchemy's
``JSON`` type stores it; booleans as 0/1); any other method is the SQLAlchemy store's, loaded
on first use. tests/store/test_pipelines_lite.py compares the rows of both paths.
"""

from __future__ import annotations

import time

from jupyter_mlops.errors import NotFoundError
from jupyter_mlops.store import lite
from jupyter_mlops.store.labels import check_label
from jupyter_mlops.store.pipelines_lite import from_json
from jupyter_mlops.store.records import ArtifactRecord, CodeSnapshotRecord, DatasetVersionRecord

_ARTIFACT_SELECT = ("SELECT id, run_id, name, digest, size, media_type, kind, created_at "
                    "FROM artifacts")
_DATASET_SELECT = ("SELECT id, name, version, digest, source, size, row_count, schema, stats, "
                   "created_at, created_by_run_id FROM dataset_versions")


def _dataset(row: tuple) -> DatasetVersionRecord:
    r = list(row)
    r[7], r[8] = from_json(r[7]), from_json(r[8])
    return DatasetVersionRecord(*r)


class LiteLineageStore(lite.LiteStore):
    """:class:`~jupyter_mlops.store.lineage.LineageStore`'s ``add_edge`` on ``sqlite3``."""

    def _full_class(self):
        from jupyter_mlops.store.lineage import LineageStore

        return LineageStore

    def add_edge(self, src_type: str, src_id: str, dst_type: str, dst_id: str,
                 relation: str) -> None:
        with self._db.write() as conn:
            conn.execute("INSERT INTO lineage_edges (src_type, src_id, dst_type, dst_id, "
                         "relation, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT "
                         "(src_type, src_id, dst_type, dst_id, relation) DO NOTHING",
                         (src_type, src_id, dst_type, dst_id, relation, time.time()))


class LiteCatalogStore(lite.LiteStore):
    """:class:`~jupyter_mlops.store.catalog.CatalogStore` for a SQLite file: artifacts, code
    snapshots and dataset lookups on ``sqlite3``; the rest is the SQLAlchemy store's."""

    def __init__(self, url: str):
        super().__init__(url)
        self.lineage = LiteLineageStore(url)

    def _full_class(self):
        from jupyter_mlops.store.catalog import CatalogStore

        return CatalogStore

    # ----------------------------------------------------------------- artifacts
    def add_artifact(self, run_id: str | None, name: str, digest: str, size: int,
                     media_type: str, kind: str = "artifact") -> ArtifactRecord:
        """Record (or re-point) ``name`` in ``run_id`` at a blob and link it in the lineage."""
        check_label(name)
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO artifacts (run_id, name, digest, size, media_type, kind, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, name) DO UPDATE "
                "SET digest = excluded.digest, size = excluded.size, "
                "media_type = excluded.media_type, kind = excluded.kind, "
                "created_at = excluded.created_at",
                (run_id, name, digest, size, media_type, kind, time.time()))
        record = self.get_artifact(run_id, name)
        if run_id:
            self.lineage.add_edge("run", run_id, "artifact", str(record.id), "produced")
        return record

    def get_artifact(self, run_id: str | None, name: str) -> ArtifactRecord:
        # `run_id IS ?` matches NULL as SQLAlchemy's `== None` renders IS NULL.
        rows = self._db.read(f"{_ARTIFACT_SELECT} WHERE run_id IS ? AND name = ? LIMIT 1",
                             (run_id, name))
        if not rows:
            raise NotFoundError(f"Run {run_id} has no artifact named {name!r}.")
        return ArtifactRecord(*rows[0])

    # ----------------------------------------------------------------- datasets
    def find_dataset_version(self, name: str, digest: str) -> DatasetVersionRecord | None:
        """The version of ``name`` with this content, if recorded."""
        rows = self._db.read(f"{_DATASET_SELECT} WHERE name = ? AND digest = ? LIMIT 1",
                             (name, digest))
        return _dataset(rows[0]) if rows else None

    def get_dataset(self, name: str, version: int | None = None) -> DatasetVersionRecord:
        if version is None:
            rows = self._db.read(f"{_DATASET_SELECT} WHERE name = ? ORDER BY version DESC "
                                 "LIMIT 1", (name,))
        else:
            rows = self._db.read(f"{_DATASET_SELECT} WHERE name = ? AND version = ? LIMIT 1",
                                 (name, version))
        if not rows:
            which = f"version {version} of " if version is not None else ""
            raise NotFoundError(f"There is no {which}dataset {name!r}. Log it with "
                                "`%mlops dataset PATH --name NAME`.")
        return _dataset(rows[0])

    # ----------------------------------------------------------------- code
    def add_code_snapshot(self, run_id: str, digest: str, *, notebook_path: str | None,
                          git_commit: str | None = None, git_branch: str | None = None,
                          git_dirty: bool | None = None,
                          git_diff_digest: str | None = None) -> CodeSnapshotRecord:
        t = time.time()
        with self._db.write() as conn:
            cur = conn.execute(
                "INSERT INTO code_snapshots (run_id, notebook_path, digest, git_commit, "
                "git_branch, git_dirty, git_diff_digest, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, notebook_path, digest, git_commit, git_branch,
                 None if git_dirty is None else int(bool(git_dirty)), git_diff_digest, t))
            new_id = cur.lastrowid
        return CodeSnapshotRecord(new_id, run_id, notebook_path, digest, git_commit, git_branch,
                                  git_dirty, git_diff_digest, t)
