"""A pipeline run's own rows on the standard library's ``sqlite3``, no SQLAlchemy (issue 14).

Why: a fully cached ``jupyter mlops pipeline run`` is a whole process that checks a few cache
keys and records a handful of rows, and importing SQLAlchemy and the ORM cost it about half
its CPU. For a plain SQLite file store, :class:`LitePipelineStore` does what the runner asks
of a pipeline store while it runs — save the pipeline, create the pipeline run with its step
runs, look a cache key up, update steps, finish, read the run back — with the statements and
the stored values of :class:`~jupyter_mlops.store.pipelines.PipelineStore` (JSON columns as
SQLAlchemy's ``JSON`` type writes them: ``json.dumps``, an explicit None as ``'null'``).
Everything else (schedules, listings, reaping) is the SQLAlchemy store's, loaded on first use.
PostgreSQL, and SQLite URLs with options, always take the SQLAlchemy path.

tests/store/test_pipelines_lite.py runs both stores on the same inputs and compares the rows;
tests/pipelines/test_cached_fast_path.py checks a fully cached CLI run imports no SQLAlchemy.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.store import lite
from jupyter_mlops.store.pipeline_records import (
    PIPELINE_RUN_STATUSES,
    STEP_FIELDS,
    STEP_STATUSES,
    PipelineRecord,
    PipelineRunRecord,
    StepRunRecord,
)

#: Columns whose values are JSON documents (SQLAlchemy ``JSON`` in store/orm.py).
_STEP_JSON = frozenset({"outputs"})
_STEP_COLUMNS = ("id", "pipeline_run_id", "step", "run_id", "status", "attempts", "cache_key",
                 "cached_from", "outputs", "notebook_digest", "started_at", "ended_at", "error")
_STEP_SELECT = f"SELECT {', '.join(_STEP_COLUMNS)} FROM step_runs"
#: False: every store of this process takes the SQLAlchemy path for pipelines, artifacts,
#: lineage and webhooks (the reference benchmarks/cold/cached_pipeline.py times beside this one).
ENABLED = True


def serves(url: str) -> bool:
    """True when the stdlib stores of this module and of catalog_lite/webhooks_lite serve
    ``url``: a plain SQLite file (``lite.sqlite_path``) while :data:`ENABLED`."""
    return ENABLED and lite.sqlite_path(url) is not None


_RUN_SELECT = ("SELECT r.id, r.pipeline_id, p.name, r.run_id, r.status, r.parameters, "
               "r.trigger, r.schedule_id, r.executor, r.started_at, r.ended_at, r.error "
               "FROM pipeline_runs AS r JOIN pipelines AS p ON p.id = r.pipeline_id")


def to_json(value: Any) -> str:
    """A value as SQLAlchemy's ``JSON`` type stores it on SQLite (None becomes ``'null'``)."""
    return json.dumps(value)


def from_json(text: str | int | float | None) -> Any:
    """A stored JSON column read back (SQL NULL and ``'null'`` are both None).

    A ``JSON`` column has NUMERIC affinity on SQLite: a document that is a bare number
    (``'0'``, ``'1.5'``) is stored as that number, and comes back as it.
    """
    if text is None or isinstance(text, (int, float)):
        return text
    return json.loads(text)


def _step(row: tuple) -> StepRunRecord:
    r = list(row)
    r[8] = from_json(r[8])
    return StepRunRecord(*r)


class LitePipelineStore(lite.LiteStore):
    """:class:`~jupyter_mlops.store.pipelines.PipelineStore` for a SQLite file, on ``sqlite3``.

    The methods a pipeline run calls are here; any other attribute is the SQLAlchemy
    ``PipelineStore``'s, created (and SQLAlchemy imported) on first use.
    """

    def _full_class(self) -> type:
        from jupyter_mlops.store.pipelines import PipelineStore

        return PipelineStore

    # ----------------------------------------------------------------- pipelines
    def save_pipeline(self, name: str, spec: dict, spec_digest: str,
                      path: str | None) -> PipelineRecord:
        """Create the pipeline ``name`` or update its spec; return the stored record."""
        t = time.time()
        with self._db.write() as conn:
            row = conn.execute("SELECT id FROM pipelines WHERE name = ?", (name,)).fetchone()
            if row is None:
                conn.execute("INSERT INTO pipelines (name, path, spec, spec_digest, created_at, "
                             "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                             (name, path, to_json(spec), spec_digest, t, t))
            else:
                conn.execute("UPDATE pipelines SET path = ?, spec = ?, spec_digest = ?, "
                             "updated_at = ? WHERE id = ?",
                             (path, to_json(spec), spec_digest, t, row[0]))
        return self.get_pipeline(name)

    def get_pipeline(self, name_or_id: str | int) -> PipelineRecord:
        column = "id" if isinstance(name_or_id, int) else "name"
        rows = self._db.read("SELECT id, name, path, spec, spec_digest, created_at, updated_at "
                             f"FROM pipelines WHERE {column} = ? LIMIT 1", (name_or_id,))
        if not rows:
            raise NotFoundError(f"There is no pipeline {name_or_id!r}. Run one with "
                                "`jupyter mlops pipeline run pipeline.yaml`.")
        r = rows[0]
        return PipelineRecord(r[0], r[1], r[2], from_json(r[3]), r[4], r[5], r[6])

    # ----------------------------------------------------------------- pipeline runs
    def create_pipeline_run(self, pipeline_id: int, steps: list[str], *, run_id: str | None,
                            parameters: dict | None, trigger: str, executor: str | None,
                            schedule_id: int | None = None,
                            pipeline_run_id: str | None = None) -> str:
        """Insert a RUNNING pipeline run with one PENDING step run per step; return its id."""
        prid = pipeline_run_id or uuid.uuid4().hex
        t = time.time()
        with self._db.write() as conn:
            conn.execute("INSERT INTO pipeline_runs (id, pipeline_id, run_id, status, "
                         "parameters, trigger, schedule_id, executor, started_at) "
                         "VALUES (?, ?, ?, 'RUNNING', ?, ?, ?, ?, ?)",
                         (prid, pipeline_id, run_id, to_json(parameters), trigger,
                          schedule_id, executor, t))
            conn.executemany("INSERT INTO step_runs (pipeline_run_id, step, status, attempts) "
                             "VALUES (?, ?, 'PENDING', 0)", [(prid, s) for s in steps])
        return prid

    def finish_pipeline_run(self, pipeline_run_id: str, status: str,
                            error: str | None = None) -> None:
        if status not in PIPELINE_RUN_STATUSES or status == "RUNNING":
            raise InvalidInputError(f"Unknown end status {status!r} for a pipeline run.")
        with self._db.write() as conn:
            conn.execute("UPDATE pipeline_runs SET status = ?, ended_at = ?, error = ? "
                         "WHERE id = ?", (status, time.time(), error, pipeline_run_id))

    def update_step(self, pipeline_run_id: str, step: str, **fields: Any) -> None:
        """Set columns of one step run (``status``, ``run_id``, ``outputs``…)."""
        unknown = set(fields) - STEP_FIELDS
        if unknown:
            raise InvalidInputError(f"Step runs have no field(s) {sorted(unknown)}.")
        if "status" in fields and fields["status"] not in STEP_STATUSES:
            raise InvalidInputError(f"Unknown step status {fields['status']!r}.")
        if not fields:
            return  # nothing to set (the runner always names at least one field)
        names = list(fields)  # validated above: only known column names reach the SQL
        values = [to_json(fields[n]) if n in _STEP_JSON else fields[n] for n in names]
        with self._db.write() as conn:
            conn.execute(f"UPDATE step_runs SET {', '.join(f'{n} = ?' for n in names)} "
                         "WHERE pipeline_run_id = ? AND step = ?",
                         (*values, pipeline_run_id, step))

    def get_pipeline_run(self, pipeline_run_id: str) -> PipelineRunRecord:
        """One pipeline run with its steps; a unique prefix of the id is enough."""
        if not isinstance(pipeline_run_id, str) or not pipeline_run_id.isalnum():
            raise InvalidInputError(f"{pipeline_run_id!r} is not a pipeline run id.")
        # isalnum() let no LIKE wildcard through (as the SQLAlchemy store's .like()).
        rows = self._db.read(f"{_RUN_SELECT} WHERE r.id LIKE ? LIMIT 2",
                             (f"{pipeline_run_id}%",))
        if len(rows) != 1:
            if rows:
                raise InvalidInputError(
                    f"{pipeline_run_id!r} matches several pipeline runs; give more of the id.")
            raise NotFoundError(f"There is no pipeline run {pipeline_run_id!r}. List them "
                                "with `jupyter mlops pipeline list`.")
        r = list(rows[0])
        steps = self._db.read(f"{_STEP_SELECT} WHERE pipeline_run_id = ? ORDER BY id",
                              (r[0],))
        r[5] = from_json(r[5])
        return PipelineRunRecord(*r, [_step(s) for s in steps])

    def find_cached_step(self, cache_key: str) -> StepRunRecord | None:
        """The newest SUCCEEDED step run with this cache key (the index covers the lookup)."""
        rows = self._db.read(f"{_STEP_SELECT} WHERE cache_key = ? AND status = 'SUCCEEDED' "
                             "ORDER BY id DESC LIMIT 1", (cache_key,))
        return _step(rows[0]) if rows else None
