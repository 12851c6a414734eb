"""Offline-first sync between two stores: push what one recorded since the last sync, or pull.

``jupyter mlops sync --to URI`` pushes from the local store (the embedded SQLite default) to a
team store (PostgreSQL + an object store); ``--from URI`` pulls the other way (everything new,
or ``--run ID …``). Both are :func:`sync_stores` with source and target swapped.

What moves: runs with their params, tags, full metric history, artifacts (rows, and blobs by
digest), code snapshots and lineage; dataset versions; registered models, versions and
aliases (aliases are the stages); feature view versions with their statistics, offline
tables and lineage (:mod:`.sync_features`); experiments (with runs or not yet), their tags
and lifecycle (deleted/restored), and the tags and descriptions of models and versions
(:mod:`.sync_meta`: the side that changed later wins; an older source value is kept out and
noted); deletions — runs the source created and deleted, tag keys of runs, experiments,
models and versions deleted on one side (:mod:`.sync_deletions`); pipelines with their runs,
step runs, schedules (arriving paused) and fires (:mod:`.sync_pipelines`); monitors with
their windows, results, alert rules and alerts (:mod:`.sync_monitors`); webhooks, never a
secret or a credential-bearing URL (:mod:`.sync_webhooks`). Pipelines, monitors, webhooks,
views and run deletions move only in a whole-store sync (not ``--run``).
Not synced (each store keeps its own): monitors' logged predictions and ground truth,
online feature tables (materialize at the target), webhook secrets and delivery logs, roles
and promotion requests, run writers, the audit log.

How "since the last sync" is found. Each store has an id (``store_identity``, migration
0009). The target records in ``sync_marks`` (peer = the source's id) how far it received,
in the SAME transaction as the rows: ``got:run_changes`` is the position in the source's
change log (``run_changes``, kept by SQLite stores), ``got:artifacts``/``got:code_snapshots``
the highest ids seen (those tables are not in the log). The next sync reads only runs logged
after those positions. Without a usable position (a PostgreSQL source, a first sync, a log
pruned past it) every source run's fingerprint is compared with the target's, and the runs
that differ are merged. The source records ``sent:*`` (peer = the target's id) after the target
committed; a rerun trusts the target's ``got:*``. The target also keeps, in the same
transaction, per-object marks of what both sides held at the end of the sync (``run:``,
``tag:``/``etag:``/``mtag:``/``vtag:``, ``pipe:``, ``mon:``): they tell a deletion or a change on
one side from an addition on the other (:mod:`.sync_deletions`).

Order, for resumability. (1) Every blob the rows will point at is copied to the target's
artifact root first (streamed, hash-checked on the way, published atomically under its
digest; blobs the target has are skipped by digest; each copied blob is re-read and hashed
at the target). (2) All rows and the ``got:*`` marks commit in ONE target transaction.
(3) The source's ``sent:*`` marks. Killed or disconnected anywhere, nothing is half-written:
before (2) the target has at most some unreferenced blobs (``gc`` removes them, a rerun uses
them), after (2) a rerun finds nothing new. A rerun of a finished sync adds nothing.

Conflict rules (never overwrite newer data on the other side; each conflict is one line in
the report, saying how to resolve it; the target's data is kept):

- A run belongs to the store that created it (``sync_origins`` names the creator of every
  run that arrived by sync). Its row (status, end time, name…) is updated only from its
  owner, and only while the target's copy is RUNNING: a finished run at the target is never
  overwritten.
- Params are written once: missing keys are added; a different value is a conflict.
- Tags: missing keys are added; a different value is overwritten by the run's owner, and a
  conflict otherwise.
- Metrics append: a point is identified by (key, step, timestamp); the points the target
  lacks are appended, so a rerun adds none. ``latest_metrics`` follows (newer point wins).
- Artifacts by (run, name): new names are copied; the same name with other contents is a
  conflict.
- Dataset versions by (name, digest); models by name; model versions by (model, digest,
  creation time). A version number already used at the target for something else becomes
  the next free number there (noted in the report).
- Aliases: both stores record the alias's agreed position at every sync. Moved only at the
  source: moved at the target (and audited, ``synced_from``). Moved only at the target: left
  (a pull brings it back). Moved on both sides to different versions: a conflict.
- Deletions (:mod:`.sync_deletions`): a run is deleted only by the store that created it,
  and only where the target's copy is still the one both agreed on (else a conflict); a
  deleted tag key likewise (a run's: by its owner); a key the target deleted is not pushed
  back, except by the run's owner.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, delete, select

from jupyter_mlops.errors import (
    InvalidInputError, NotFoundError, StoreUnavailableError, TransferError,
)
from jupyter_mlops.store.engine import read_connection, redact, upsert, write_connection

__all__ = ["SyncReport", "sync_stores", "check_store_uri"]

_RUN_ID = re.compile(r"[0-9a-f]{32}")
_BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class SyncReport:
    """What one :func:`sync_stores` moved, and what it refused (``conflicts``)."""

    source: str
    target: str
    mode: str
    counts: dict[str, int]
    conflicts: tuple[str, ...]
    notes: tuple[str, ...]
    blobs_copied: int
    blobs_present: int
    blob_bytes: int
    missing_blobs: tuple[str, ...]
    seconds: float
    runs_examined: int = 0

    def summary(self) -> str:
        c = self.counts
        lines = [f"synced {redact(self.source)} -> {redact(self.target)} "
                 f"({self.mode}, {self.seconds:.2f} s)"]
        runs = c.get("runs_new", 0) + c.get("runs_updated", 0)
        lines.append(f"runs:      {c.get('runs_new', 0):,} new, {c.get('runs_updated', 0):,} "
                     f"updated, {self.runs_examined - runs:,} unchanged of "
                     f"{self.runs_examined:,} examined")
        lines.append(f"rows:      {c.get('params', 0):,} params, {c.get('tags', 0):,} tags, "
                     f"{c.get('metric_points', 0):,} metric points, "
                     f"{c.get('artifacts', 0):,} artifacts, "
                     f"{c.get('code_snapshots', 0):,} code snapshots, "
                     f"{c.get('lineage_edges', 0):,} lineage edges")
        lines.append(f"catalog:   {c.get('datasets', 0):,} dataset versions, "
                     f"{c.get('models', 0):,} models, {c.get('model_versions', 0):,} versions, "
                     f"{c.get('aliases', 0):,} aliases moved, "
                     f"{c.get('feature_views', 0):,} feature view versions")
        lines.append(f"metadata:  {c.get('experiments', 0):,} experiments without runs, "
                     f"{c.get('experiment_tags', 0):,} experiment tags, "
                     f"{c.get('experiment_lifecycle', 0):,} experiments deleted or restored, "
                     f"{c.get('registry_tags', 0):,} model/version tags, "
                     f"{c.get('registry_descriptions', 0):,} descriptions")
        lines.append(f"pipelines: {c.get('pipelines', 0):,} pipelines, "
                     f"{c.get('pipeline_runs', 0):,} pipeline runs "
                     f"({c.get('pipeline_runs_updated', 0):,} updated), "
                     f"{c.get('step_runs', 0):,} step runs, {c.get('schedules', 0):,} "
                     f"schedules, {c.get('schedule_fires', 0):,} schedule fires")
        lines.append(f"monitors:  {c.get('monitors', 0):,} monitors, "
                     f"{c.get('monitor_windows', 0):,} windows "
                     f"({c.get('monitor_results', 0):,} results), "
                     f"{c.get('alert_rules', 0):,} alert rules, {c.get('alerts', 0):,} "
                     f"alerts, {c.get('webhooks', 0):,} webhooks (never their secrets)")
        lines.append(f"deleted:   {c.get('runs_deleted', 0):,} runs, "
                     f"{c.get('tags_deleted', 0):,} run tags, "
                     f"{c.get('meta_tags_deleted', 0):,} experiment/model/version tags "
                     "(deleted at the source)")
        lines.append(f"blobs:     {self.blobs_copied:,} copied "
                     f"({self.blob_bytes / 1e6:,.2f} MB, hashes verified at the target), "
                     f"{self.blobs_present:,} already there")
        if c.get("lineage_edges_skipped"):
            lines.append(f"  note: {c['lineage_edges_skipped']:,} lineage edges name nodes "
                         "sync does not carry (materializations, pipelines): left out")
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  warning: blob {d} is referenced but missing at the source"
                  for d in self.missing_blobs]
        lines += [f"  conflict: {n}" for n in self.conflicts]
        if not self.conflicts:
            lines.append("no conflicts")
        return "\n".join(lines)


# ---------------------------------------------------------------------------- checks
def check_store_uri(url: object, what: str) -> str:
    """``url`` as a store URI sync can open, or InvalidInputError naming what is wrong."""
    from sqlalchemy.engine import make_url

    if not isinstance(url, str) or not url.strip():
        raise InvalidInputError(f"{what}: give a store URI (postgresql://USER@HOST/DB or "
                                "sqlite:///PATH).")
    try:
        parsed = make_url(url)
    except Exception:
        raise InvalidInputError(
            f"{what}: {redact(url)!r} is not a store URI; use postgresql://USER@HOST/DB or "
            "sqlite:///PATH.") from None
    if parsed.get_backend_name() not in _BACKENDS:
        raise InvalidInputError(
            f"{what}: unknown store scheme {parsed.drivername!r}; sync speaks "
            "postgresql://… and sqlite:///PATH.")
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise InvalidInputError(f"{what}: an in-memory SQLite store cannot be synced; give "
                                "sqlite:///PATH to a file.")
    return url


def _place(url: str) -> tuple:
    """Where a URI's data lives, so two spellings of one store compare equal."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return ("sqlite", str(Path(u.database).expanduser().resolve()))
    return ("postgresql", (u.host or "localhost").lower(), u.port or 5432, u.database)


def _check_run_ids(run_ids) -> list[str] | None:
    if run_ids is None:
        return None
    ids = list(dict.fromkeys(run_ids))
    bad = [r for r in ids if not isinstance(r, str) or not _RUN_ID.fullmatch(r)]
    if bad:
        raise InvalidInputError(f"--run {str(bad[0])[:80]!r} is not a run id (32 lowercase "
                                "hex characters, as `jupyter mlops runs list` shows).")
    if not ids:
        raise InvalidInputError("--run: give at least one run id.")
    return ids


def _open(url: str, what: str) -> None:
    """Bring a store to this version's schema; a source must exist, nothing foreign opens."""
    from jupyter_mlops.store import identify
    from jupyter_mlops.store.migrate import ensure_schema

    found = identify.identify(url)
    if what == "source" and found.kind in (identify.MISSING, identify.EMPTY_FILE,
                                           identify.EMPTY_DATABASE):
        raise NotFoundError(f"The source store {redact(url)} does not exist or is empty; "
                            "nothing to sync.")
    if found.kind not in identify.OPENABLE and found.kind != identify.MISSING:
        identify.require_current_store(url, what)  # raises, naming what it is
    ensure_schema(url)


# ---------------------------------------------------------------------------- marks
def _identity(conn: Connection) -> str:
    from jupyter_mlops.store.orm import StoreIdentity

    found = conn.execute(select(StoreIdentity.id)).scalar()
    if found is None:  # pragma: no cover - migration 0009 writes it
        found = uuid.uuid4().hex
        conn.execute(StoreIdentity.__table__.insert().values(id=found, created_at=time.time()))
    return found


def _marks(conn: Connection, peer: str) -> dict[str, int]:
    """The cursors and alias marks (not the per-object marks of :mod:`.sync_deletions`)."""
    from jupyter_mlops.store.orm import SyncMark
    from jupyter_mlops.store.sync_deletions import OBJECT_MARKS

    return dict(conn.execute(select(SyncMark.name, SyncMark.position).where(
        SyncMark.peer == peer, *[SyncMark.name.not_like(k + "%") for k in OBJECT_MARKS]))
        .all())


def _set_marks(conn: Connection, peer: str, marks: dict[str, int | None]) -> None:
    from jupyter_mlops.store.orm import SyncMark

    gone = [name for name, pos in marks.items() if pos is None]
    for part in (gone[i:i + 500] for i in range(0, len(gone), 500)):
        conn.execute(delete(SyncMark).where(SyncMark.peer == peer, SyncMark.name.in_(part)))
    rows = [{"peer": peer, "name": n, "position": int(p), "updated_at": time.time()}
            for n, p in marks.items() if p is not None]
    if len(rows) >= 100:  # per-object marks of a big batch: replace them, COPY on PostgreSQL
        from jupyter_mlops.store.sync_runs import chunks, insert_rows, member

        for part in chunks([r["name"] for r in rows]):
            conn.execute(delete(SyncMark).where(SyncMark.peer == peer,
                                                member(conn, SyncMark.name, part)))
        insert_rows(conn, SyncMark.__table__, rows)
    elif rows:
        stmt = upsert(conn, SyncMark.__table__)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["peer", "name"],
            set_={"position": stmt.excluded.position, "updated_at": stmt.excluded.updated_at}),
            rows)


# ---------------------------------------------------------------------------- sync
def sync_stores(source_url: str, target_url: str, source_artifacts: str | None,
                target_artifacts: str | None, *, run_ids: list[str] | None = None,
                progress: Callable[[str], None] | None = None) -> SyncReport:
    """Bring into ``target_url`` what ``source_url`` holds and the target lacks.

    Parameters
    ----------
    source_url, target_url
        SQLAlchemy URLs (``sqlite:///PATH`` or ``postgresql://…``) of two different stores;
        the target's schema is created or upgraded if needed.
    source_artifacts, target_artifacts
        Their artifact roots (folders or fsspec URLs); needed when a blob must move.
    run_ids
        Only these runs (and what they reference), instead of everything new.
    progress
        Called with one line per phase.

    Returns
    -------
    SyncReport
        Counts, conflicts (one line each, the target's data kept) and blob figures.

    Raises
    ------
    InvalidInputError
        A URI with an unknown scheme, the same store twice, a malformed run id, no artifact
        root where blobs must move.
    NotFoundError
        The source store does not exist, or a ``run_ids`` run is not in it.
    StoreUnavailableError
        A store could not be reached or the connection dropped: nothing was lost, run the
        same sync again.
    TransferError, CorruptArtifactError
        A blob did not match its hash (at the target after copying, or at the source).
    """
    say = progress or (lambda _line: None)
    check_store_uri(source_url, "source")
    check_store_uri(target_url, "target")
    if _place(source_url) == _place(target_url):
        raise InvalidInputError(
            f"{redact(target_url)} is the store being synced from; give another store.")
    ids = _check_run_ids(run_ids)
    t0 = time.perf_counter()
    try:
        return _sync(source_url, target_url, source_artifacts, target_artifacts, ids, say, t0)
    except StoreUnavailableError as exc:
        first = (str(exc).strip().splitlines() or [repr(exc)])[0].rstrip(".")
        raise StoreUnavailableError(
            f"{first}. Nothing was lost: what the target committed is recorded; run the same "
            "sync again to finish.") from exc


def _sync(source_url, target_url, source_root, target_root, run_ids, say, t0) -> SyncReport:
    from jupyter_mlops.store import sync_catalog as cat
    from jupyter_mlops.store import sync_deletions as dl
    from jupyter_mlops.store import sync_features as feats
    from jupyter_mlops.store import sync_meta as meta
    from jupyter_mlops.store import sync_monitors as sm
    from jupyter_mlops.store import sync_pipelines as sp
    from jupyter_mlops.store import sync_runs as sr
    from jupyter_mlops.store import sync_webhooks as sw

    _open(source_url, "source")
    _open(target_url, "target")
    with write_connection(source_url) as conn:
        src_id = _identity(conn)
    with write_connection(target_url) as conn:
        dst_id = _identity(conn)
    if src_id == dst_id:
        raise InvalidInputError(
            f"{redact(target_url)} is the same store as {redact(source_url)} (same store id: "
            "a file copy?); sync needs two different stores.")
    with read_connection(target_url) as conn:
        got = _marks(conn, src_id)
    with read_connection(source_url) as conn:
        sent = _marks(conn, dst_id)
    cursors = {k[4:]: v for k, v in got.items() if k.startswith("got:")}

    say("looking for what changed")
    with read_connection(source_url, transaction=True) as src, \
            read_connection(target_url) as dst:
        ids, positions, mode = sr.changed_runs(src, dst, cursors, run_ids)
        if run_ids is not None:
            missing = set(run_ids) - set(sr.existing_runs(src, run_ids))
            if missing:
                raise NotFoundError(f"Run {sorted(missing)[0]} is not in {redact(source_url)}.")
        reg = cat.registry_state(src) if run_ids is None else None
        if reg is not None:  # a version's run travels with it
            extra = cat.registry_runs(reg) - set(ids)
            ids = sorted(set(ids) | (extra - sr.existing_runs(dst, extra)))
        data = sr.read_runs(src, ids)
        while True:  # parents the target lacks travel with their children
            parents = {r["parent_run_id"] for r in data.runs.values()
                       if r["parent_run_id"]} - set(data.runs)
            parents -= sr.existing_runs(dst, parents)
            parents &= sr.existing_runs(src, parents)
            if not parents:
                break
            more = sr.read_runs(src, parents)
            for name in ("runs", "params", "tags", "chunks", "artifacts", "snapshots",
                         "origins", "experiments", "environments", "latest"):
                getattr(data, name).update(getattr(more, name))
        edges = sr.run_edges(src, sorted(data.runs))
        wanted = None
        if run_ids is not None:
            wanted = {int(e[f"{end}_id"]) for e in edges for end in ("src", "dst")
                      if e[f"{end}_type"] == "dataset" and e[f"{end}_id"].isdigit()}
        datasets = cat.dataset_rows(src, wanted)
        experiments = meta.experiment_state(src)
        if run_ids is not None:  # only the experiments of the selected runs
            names = {e["name"] for e in data.experiments.values()}
            experiments = {n: e for n, e in experiments.items() if n in names}
        reg_tags = meta.registry_tags(src) if reg is not None else None
        views, view_stats = feats.view_rows(src) if run_ids is None else ([], {})
        if views:  # the lineage around them (dataset -> view -> training set -> run)
            seen = {e["id"] for e in edges}
            edges += [e for e in feats.view_edges(src) if e["id"] not in seen]
        early_notes: list[str] = []
        gone = dl.deleted_runs(src, dst, cursors, mode, src_id, early_notes)
        src_fp = dl.source_fingerprints(src, data)
        run_agree = dl.run_agreement(src, dst, data, src_id, dst_id)
        meta_agree = dl.meta_agreement(src, dst, src_id, dst_id)
        pipes = sp.pipeline_state(src) if run_ids is None else None
        pipe_agree = sp.pipeline_agreement(src, dst, src_id, dst_id) if pipes else None
        mons = sm.monitor_state(src) if run_ids is None else None
        if mons is not None:
            mon_results = sm.moving_results(src, dst, mons)
            mon_agree = sm.monitor_agreement(src, dst, src_id, dst_id)
        hooks = sw.webhook_rows(src) if run_ids is None else []
    say(f"{len(data.runs):,} runs to sync ({mode})")

    digests = sr.needed_digests(data) | (cat.registry_digests(reg) if reg else set()) \
        | feats.view_digests(views) | (sp.pipeline_digests(pipes) if pipes else set()) \
        | (sm.monitor_digests(mons) if mons else set())
    blob_result: tuple = (0, 0, 0, ())
    src_artifacts = {a["id"]: (a["run_id"], a["name"])
                     for arts in data.artifacts.values() for a in arts}
    names = {src_id: f"the source {redact(source_url)}",
             dst_id: f"the target {redact(target_url)}"}
    catalog = cat.CatalogMerge(notes=early_notes)
    with ThreadPoolExecutor(1) as background:
        blobs = None
        if digests:  # copied while the rows are written; the rows commit only after them
            _require_roots(digests, source_root, target_root, source_url, target_url)
            blobs = background.submit(_copy_blobs, digests, source_root, target_root, say)
        try:
            with write_connection(target_url) as dst:
                merged = sr.write_runs(dst, data, src_id, dst_id, names,
                                       dl.keep_out_of_runs(data, run_agree, src_id))
                say(f"runs written: {merged.counts['runs_new']:,} new")
                dl.write_run_tags(dst, data, run_agree, src_id, names, catalog)
                meta.write_experiments(dst, experiments, catalog, meta_agree)
                cat.write_datasets(dst, datasets, catalog)
                feats.write_views(dst, views, view_stats, catalog)
                if reg is not None:
                    alias = {k: v for k, v in sent.items() if k.startswith("alias:")}
                    t_alias = {k: v for k, v in got.items() if k.startswith("alias:")}
                    cat.write_registry(dst, reg, alias, t_alias, src_id, catalog)
                    meta.write_registry_tags(dst, reg, reg_tags, catalog, meta_agree)
                dl.write_meta_tags(dst, experiments, reg, reg_tags, meta_agree, catalog)
                cat.write_edges(dst, edges, src_artifacts, catalog)
                if pipes is not None:
                    sp.write_pipelines(dst, pipes, pipe_agree, catalog)
                if mons is not None:
                    sm.write_monitors(dst, mons, mon_results, mon_agree, catalog)
                sw.write_webhooks(dst, hooks, catalog)
                dl.write_run_marks(dst, data, src_fp, run_agree, catalog)
                dl.write_run_deletions(dst, gone, src_id, catalog)
                _set_marks(dst, src_id, {**{f"got:{k}": v for k, v in positions.items()},
                                         **catalog.target_marks})
                if blobs is not None:
                    blob_result = blobs.result()  # a failed copy raises: nothing commits
                say("committing")
        finally:
            if blobs is not None and not blobs.done():
                blobs.cancel()
    copied, present, nbytes, missing_blobs = blob_result
    with write_connection(source_url) as src:
        _set_marks(src, dst_id, {**{f"sent:{k}": v for k, v in positions.items()},
                                 **catalog.source_marks})
    counts = Counter(merged.counts) + Counter(catalog.counts)
    return SyncReport(source_url, target_url, mode, dict(counts),
                      tuple(merged.conflicts + catalog.conflicts), tuple(catalog.notes),
                      copied, present, nbytes, missing_blobs, time.perf_counter() - t0,
                      runs_examined=len(data.runs))


def _require_roots(digests, source_root, target_root, source_url, target_url) -> None:
    for root, url, flag in ((source_root, source_url, "--artifact-root"),
                            (target_root, target_url, "--artifacts")):
        if root is None:
            raise InvalidInputError(
                f"{len(digests):,} blobs must move but the artifact root of {redact(url)} is "
                f"unknown; give it with {flag} (nothing was written).")


def _copy_blobs(digests: set[str], source_root: str, target_root: str,
                say) -> tuple[int, int, int, tuple]:
    from jupyter_mlops.store.blobs import BlobStore
    from jupyter_mlops.store.transfer import copy_blobs

    if source_root == target_root:
        return 0, len(digests), 0, ()
    try:
        src, dst = BlobStore(source_root), BlobStore(target_root)
        missing = tuple(sorted(d for d in digests if not src.exists(d)))
        todo = sorted(digests - set(missing))
        sizes, bad = copy_blobs(src, dst, todo, say, verify_present=False)
    except OSError as exc:  # a full disk, an object store gone mid-copy…
        raise StoreUnavailableError(
            f"Copying blobs to {target_root!r} failed: {exc}; no rows were written.") from exc
    if bad:
        raise TransferError(
            f"{len(bad)} blob(s) do not match their hash at {target_root!r} after copying "
            f"(first: {bad[0]}); no rows were written. Check the target storage and sync "
            "again.")
    present = sum(1 for s in sizes if s is None)
    return len(todo) - present, present, sum(s or 0 for s in sizes), missing
