"""Copy a whole store to another database and artifact root, and prove the copy complete.

Used by ``jupyter mlops migrate`` to move from the embedded default (SQLite plus a local
folder) to a team setup (PostgreSQL plus an object store), or back. The source is only ever
read: it is identified first without opening it for writing (:mod:`.identify`: a missing or
foreign file, an MLflow database, a store at another schema are refused, named, untouched),
then every read goes through a read-only URL (:func:`~.engine.read_only_url`: SQLite
``mode=ro`` without the WAL pragma, PostgreSQL read-only transactions).

The target must be empty, which is checked *before* anything is written to it (its schema is
created or upgraded only then). Every table is copied in foreign-key order, in batches of
SQLAlchemy Core inserts, inside ONE target transaction; schema creation is its own
transaction (SQLite and PostgreSQL both have transactional DDL). So a copy stopped at any
point — an error, Ctrl-C, SIGKILL, a power cut — leaves the target's database either empty or
holding every row. Blobs are copied after the rows, streamed in chunks (never a whole blob in
memory) and each published atomically under its hash, so a blob is either absent from the
target root or complete; a copy stopped during that phase leaves a target with all rows and
some blobs. ``resume=True`` (``--resume``) finishes such a target: it checks that the rows
there are the source's (count and key range of every table), copies only the blobs still
missing, then verifies everything as a fresh copy would. Without it, migrate refuses any
target holding rows and says which case it is.

Afterwards every table's row count is compared and every blob is re-read from the target and
hashed; any difference raises :class:`TransferError` naming it.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Connection, Table, func, inspect, select, text, update

from jupyter_mlops.errors import (
    ConflictError,
    InvalidInputError,
    StoreUnavailableError,
    TransferError,  # defined with the rest of the tree (and its status) in errors.py
)
from jupyter_mlops.store.engine import read_connection, read_only_url, redact, write_connection

__all__ = ["TransferError", "TransferReport", "migrate_store"]

#: Rows per INSERT batch: large enough to amortise round trips, small enough for memory.
BATCH_ROWS = 2000
#: Blob copies in flight (object stores are latency-bound, so overlap them).
BLOB_WORKERS = 8


@dataclass(frozen=True)
class TransferReport:
    """What :func:`migrate_store` copied and verified.

    ``tables`` maps table name to rows copied (equal at source and target, or it raised);
    ``blobs``/``blob_bytes`` count blobs copied and verified; ``missing_blobs`` are digests
    the source's rows reference but its artifact root does not hold (copying cannot fix
    those: the target is as complete as the source); ``rows_seconds``/``blobs_seconds`` are
    wall-clock durations of the two phases.
    """

    source: str
    target: str
    tables: dict[str, int]
    blobs: int
    blob_bytes: int
    missing_blobs: tuple[str, ...]
    rows_seconds: float
    blobs_seconds: float
    verified_blobs: int = 0
    notes: tuple[str, ...] = field(default=())
    #: True when an interrupted copy was finished (rows were already at the target).
    resumed: bool = False
    #: Blobs already at the target (from an interrupted copy), verified but not copied.
    blobs_present: int = 0

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def summary(self) -> str:
        """A few human-readable lines: per-table counts, blobs, throughput."""
        lines = [f"migrated {redact(self.source)} -> {redact(self.target)}"]
        width = max((len(t) for t in self.tables), default=0)
        for name, count in self.tables.items():
            if count:
                lines.append(f"  {name.ljust(width)}  {count:>10,} rows")
        if self.resumed:
            lines.append(f"rows:  {self.rows:,} in {len(self.tables)} tables were already at "
                         "the target (resumed), counts and key ranges verified")
        else:
            rps = self.rows / self.rows_seconds if self.rows_seconds > 0 else 0.0
            lines.append(f"rows:  {self.rows:,} in {len(self.tables)} tables, "
                         f"{self.rows_seconds:.2f} s ({rps:,.0f} rows/s), counts verified")
        mbps = self.blob_bytes / 1e6 / self.blobs_seconds if self.blobs_seconds > 0 else 0.0
        present = (f" ({self.blobs_present:,} already there)" if self.blobs_present else "")
        lines.append(f"blobs: {self.blobs:,}{present} ({self.blob_bytes / 1e6:,.2f} MB copied) "
                     f"in {self.blobs_seconds:.2f} s ({mbps:,.1f} MB/s), "
                     f"{self.verified_blobs:,} hashes verified at the target")
        for digest in self.missing_blobs:
            lines.append(f"  warning: blob {digest} is referenced but missing at the source")
        lines.extend(self.notes)
        return "\n".join(lines)


def migrate_store(source_url: str, target_url: str, source_artifacts: str | None = None,
                  target_artifacts: str | None = None, *, batch_rows: int = BATCH_ROWS,
                  progress: Callable[[str], None] | None = None,
                  resume: bool = False) -> TransferReport:
    """Copy every row from ``source_url`` to ``target_url`` and every referenced blob.

    Parameters
    ----------
    source_url, target_url : str
        SQLAlchemy URLs. The target must hold no rows (checked before its schema is created
        or migrated to head), unless ``resume``.
    source_artifacts, target_artifacts : str, optional
        Artifact roots (folders or fsspec URLs). Give both to copy blobs, neither to copy
        only rows (e.g. both databases share one object store).
    batch_rows : int
        Rows per INSERT.
    progress : callable, optional
        Called with one line per table / blob phase.
    resume : bool
        Finish an interrupted copy: a target that already holds exactly the source's rows
        gets the missing blobs and the full verification; an empty target gets a full copy.

    Returns
    -------
    TransferReport

    Raises
    ------
    NotFoundError
        The source database does not exist (nothing is created).
    InvalidInputError
        Source and target are the same, or only one artifact root was given, or the source
        is not a jupyter-mlops store (an empty or non-SQLite file, an MLflow tracking
        database, another application's database: the message names which).
    ConflictError
        The target store already holds rows (nothing is written to it); with ``resume``,
        rows that are not this source's.
    StoreUnavailableError
        The target has a schema newer than this version understands (nothing is written), or
        the source is a store at another schema version (upgrade it, or jupyter-mlops).
    CorruptArtifactError
        A source blob no longer matches its hash (the rows were copied; fix the source with
        ``jupyter mlops gc`` and re-run into a fresh target).
    TransferError
        A row count or a blob hash differs at the target after copying.
    """
    from jupyter_mlops.store.identify import require_current_store
    from jupyter_mlops.store.migrate import upgrade
    from jupyter_mlops.store.orm import Base

    say = progress or (lambda _line: None)
    if source_url == target_url:
        raise InvalidInputError("--from and --to name the same store; give a different target.")
    if (source_artifacts is None) != (target_artifacts is None):
        raise InvalidInputError(
            "Give both --from-artifacts and --to-artifacts to copy blobs, or neither.")
    if source_artifacts is not None and source_artifacts == target_artifacts:
        raise InvalidInputError("--from-artifacts and --to-artifacts are the same root.")
    if batch_rows < 1:
        raise InvalidInputError("batch_rows must be at least 1.")

    # Identify the source before any engine touches it; from then on only read-only opens.
    require_current_store(source_url, "source")
    source_ro = read_only_url(source_url)
    # Derived tables (the search index's change log) are rebuilt by the target's own triggers.
    tables = [t for t in Base.metadata.sorted_tables if not t.info.get("derived")]
    # Look at the target before writing anything to it, even its schema.
    rows_done = _check_target(source_ro, target_url, tables, resume)

    t0 = time.perf_counter()
    copied: dict[str, int] = {}
    if rows_done:
        say("rows: already at the target (resuming an interrupted copy)")
        with read_connection(source_ro) as src:
            copied = {t.name: _count(src, t) for t in tables}
    else:
        upgrade(target_url)
        # transaction=True: _copy_table streams the source through a server-side cursor.
        with read_connection(source_ro, transaction=True) as src, \
                write_connection(target_url) as dst:
            # Again inside the copy's transaction: nobody wrote since the check above.
            _require_empty(target_url, tables, dst)
            for table in tables:
                copied[table.name] = _copy_table(src, dst, table, batch_rows)
                if copied[table.name]:
                    say(f"{table.name}: {copied[table.name]:,} rows")
            if dst.dialect.name == "postgresql":
                _reset_sequences(dst, tables)
    rows_seconds = time.perf_counter() - t0
    _verify_counts(source_ro, target_url, tables, copied)

    blobs = blob_bytes = verified = present = 0
    missing: tuple[str, ...] = ()
    t1 = time.perf_counter()
    if source_artifacts is not None:
        blobs, blob_bytes, verified, missing, present = _copy_blobs(
            source_ro, source_artifacts, target_artifacts, say)
    blobs_seconds = time.perf_counter() - t1
    return TransferReport(source_url, target_url, copied, blobs, blob_bytes, missing,
                          rows_seconds, blobs_seconds, verified, resumed=rows_done,
                          blobs_present=present)


# ---------------------------------------------------------------------------- rows
def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


def _busy(conn: Connection, tables: list[Table]) -> dict[str, int]:
    """Row counts of the non-empty ``tables`` that exist in ``conn``'s database."""
    existing = set(inspect(conn).get_table_names())
    return {t.name: n for t in tables if t.name in existing and (n := _count(conn, t))}


def _listed(busy: dict[str, int]) -> str:
    return (", ".join(f"{name} ({n:,})" for name, n in list(busy.items())[:5])
            + (" …" if len(busy) > 5 else ""))


def _require_empty(url: str, tables: list[Table], conn: Connection) -> None:
    busy = _busy(conn, tables)
    if busy:
        raise ConflictError(
            f"The target store {redact(url)} is not empty: {_listed(busy)}. migrate only "
            "copies into an empty store, so nothing was written; point --to at a new "
            "database (or drop this one) and re-run.")


def _key_ranges(conn: Connection, tables: list[Table]) -> dict[str, tuple]:
    """Per table: (rows, smallest key, largest key) — the key range only for one-column keys."""
    out = {}
    for t in tables:
        pk = list(t.primary_key.columns)
        if len(pk) == 1:
            row = conn.execute(select(func.count(), func.min(pk[0]), func.max(pk[0]))
                               .select_from(t)).one()
            out[t.name] = (int(row[0] or 0), row[1], row[2])
        else:
            out[t.name] = (_count(conn, t), None, None)
    return out


def _check_target(source_url: str, target_url: str, tables: list[Table],
                  resume: bool) -> bool:
    """Refuse a target that is not empty (nothing written yet); True if its rows are done.

    With ``resume``, a target holding exactly the source's rows — an interrupted copy whose
    row transaction had committed — is accepted and its rows are kept.
    """
    from jupyter_mlops.store.migrate import HEAD_REVISION, _is_known, current_revision

    with read_connection(target_url) as conn:
        revision = current_revision(conn)
        if revision is not None and revision != HEAD_REVISION and not _is_known(revision):
            raise StoreUnavailableError(
                f"The target store {redact(target_url)} has schema {revision}, newer than "
                f"this jupyter-mlops understands ({HEAD_REVISION}); nothing was written. "
                "Upgrade jupyter-mlops or use a new target.")
        busy = _busy(conn, tables)
        if not busy:
            return False
        target_ranges = _key_ranges(conn, tables) if revision == HEAD_REVISION else None
    with read_connection(source_url) as conn:
        source_ranges = _key_ranges(conn, tables)
    same = target_ranges == source_ranges
    where = f"The target store {redact(target_url)} is not empty: {_listed(busy)}."
    if resume and same:
        return True
    if resume:
        differ = ([t for t in source_ranges if source_ranges[t] != target_ranges[t]]
                  if target_ranges is not None else ["schema"])
        raise ConflictError(
            f"{where} --resume only finishes an interrupted copy of this same source, and "
            f"these rows are not one (different: {', '.join(differ[:5])}"
            f"{' …' if len(differ) > 5 else ''}), so nothing was written; point --to at a "
            "new database (or drop this one) and run migrate without --resume.")
    if same:
        raise ConflictError(
            f"{where} It holds exactly the source's rows, as a migrate that was interrupted "
            "while copying blobs (or one that finished) leaves it, and nothing was written: "
            "run the same command with --resume to copy the missing blobs and verify "
            "everything.")
    raise ConflictError(
        f"{where} migrate only copies into an empty store, so nothing was written; point "
        "--to at a new database (or drop this one) and re-run.")


def _self_refs(table: Table) -> list[str]:
    """Columns of ``table`` that reference ``table`` itself (e.g. a run's parent run)."""
    return sorted({fk.parent.name for fk in table.foreign_keys if fk.column.table is table})


def _copy_table(src: Connection, dst: Connection, table: Table, batch_rows: int) -> int:
    # Self-references may point at rows later in key order: insert them NULL, then set them.
    deferred = _self_refs(table)
    pk = list(table.primary_key.columns)
    result = src.execution_options(yield_per=batch_rows).execute(select(table).order_by(*pk))
    # A JSON column's None must stay SQL NULL (the default would write the JSON text 'null').
    from sqlalchemy import JSON, bindparam

    insert = table.insert().values({
        c.name: bindparam(c.name, type_=JSON(none_as_null=True))
        for c in table.columns if isinstance(c.type, JSON)})
    count = 0
    later: list[dict] = []
    for part in result.mappings().partitions(batch_rows):
        rows = [dict(r) for r in part]
        for row in rows:
            if deferred and any(row[c] is not None for c in deferred):
                later.append({**{f"_pk_{c.name}": row[c.name] for c in pk},
                              **{f"_v_{c}": row[c] for c in deferred}})
                for c in deferred:
                    row[c] = None
        dst.execute(insert, rows)
        count += len(rows)
    if later:
        stmt = update(table).where(*(c == bindparam(f"_pk_{c.name}") for c in pk)).values(
            {c: bindparam(f"_v_{c}") for c in deferred})
        for i in range(0, len(later), batch_rows):
            dst.execute(stmt, later[i:i + batch_rows])
    return count


def _reset_sequences(conn: Connection, tables: Iterable[Table]) -> None:
    # Explicit ids bypass PostgreSQL's sequences; without this the next insert would collide.
    for table in tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or pk[0].autoincrement is not True:
            continue
        seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                           {"t": table.name, "c": pk[0].name}).scalar()
        if seq:
            top = f'(SELECT MAX("{pk[0].name}") FROM "{table.name}")'  # names from our ORM
            conn.execute(text(f"SELECT setval(:s, COALESCE({top}, 1), {top} IS NOT NULL)"),
                         {"s": seq})


def _verify_counts(source_url: str, target_url: str, tables: list[Table],
                   copied: dict[str, int]) -> None:
    with read_connection(source_url) as src, read_connection(target_url) as dst:
        bad = [(t.name, copied[t.name], _count(src, t), _count(dst, t)) for t in tables]
    bad = [b for b in bad if not (b[1] == b[2] == b[3])]
    if bad:
        detail = "; ".join(f"{n}: copied {c}, source now {s}, target {d}" for n, c, s, d in bad)
        raise TransferError(
            f"Row counts differ after copying ({detail}). Was the source written to during "
            "the copy? Stop every writer, drop the target and run migrate again.")


# ---------------------------------------------------------------------------- blobs
def referenced_digests(url: str) -> tuple[set[str], set[str]]:
    """(digests rows require, digests rows mention that may or may not be blobs).

    The first set is what ``gc`` keeps; the second adds monitor profiles, window data and
    pipeline step outputs, copied when the source holds them.
    """
    from jupyter_mlops.store.catalog import CatalogStore
    from jupyter_mlops.store.orm import Monitor, MonitorWindow, StepRun

    required = CatalogStore(url).referenced_digests()
    optional: set[str] = set()
    with read_connection(url) as conn:
        optional |= set(conn.execute(select(Monitor.profile_digest)).scalars())
        optional |= {d for d in conn.execute(select(MonitorWindow.data_digest)).scalars() if d}
        for outputs in conn.execute(select(StepRun.outputs)).scalars():
            for out in (outputs or {}).values() if isinstance(outputs, dict) else ():
                if isinstance(out, dict) and isinstance(out.get("digest"), str):
                    optional.add(out["digest"])
    return required, optional - required


class _VerifyingReader(io.RawIOBase):
    """A source blob read in chunks, hashed on the way; raises at EOF if it is corrupt.

    Handed to the target's ``put_stream``, so a blob crosses in CHUNK_SIZE pieces, and a
    corrupt source blob raises before the target publishes anything.
    """

    def __init__(self, f, digest: str, corrupt: Callable[[], Exception]):
        from jupyter_mlops.hashing import new_hasher

        self._f, self._digest, self._corrupt = f, digest, corrupt
        self._hasher = new_hasher()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._f.read(size)
        if chunk:
            self._hasher.update(chunk)
        elif self._hasher.hexdigest() != self._digest:
            raise self._corrupt()
        return chunk


def _copy_blobs(source_url: str, source_root: str, target_root: str,
                say: Callable[[str], None]) -> tuple[int, int, int, tuple[str, ...], int]:
    """(blobs, bytes copied, verified at the target, missing at the source, already there)."""
    from jupyter_mlops.store.blobs import _DIGEST, BlobStore

    src, dst = BlobStore(source_root), BlobStore(target_root)
    required, optional = referenced_digests(source_url)
    optional = {d for d in optional if _DIGEST.fullmatch(d) and src.exists(d)}
    missing = tuple(sorted(d for d in required if not src.exists(d)))
    todo = sorted((required - set(missing)) | optional)

    sizes, bad = copy_blobs(src, dst, todo, say)
    present = sum(1 for size in sizes if size is None)
    if bad:
        raise TransferError(
            f"{len(bad)} blob(s) do not match their hash at {target_root!r} after copying "
            f"(first: {bad[0]}). Check the target storage, then run migrate again into a "
            "fresh target.")
    ok = todo
    return len(todo), sum(size or 0 for size in sizes), len(ok), missing, present


def copy_blobs(src, dst, digests: list[str], say: Callable[[str], None],
               verify_present: bool = True) -> tuple[list[int | None], list[str]]:
    """Copy ``digests`` from BlobStore ``src`` to ``dst``, skipping those ``dst`` holds.

    Each blob is streamed in chunks, hashed on the way (a corrupt source blob raises before
    the target publishes anything) and published atomically under its hash; then every blob
    copied (and, with ``verify_present``, every one already there) is re-read at the target
    and hashed. Returns (size copied or None if already there, per digest; digests that do
    not match at the target). Used by ``migrate`` and ``sync``.
    """

    def copy_one(digest: str) -> int | None:
        if dst.exists(digest):  # an interrupted copy's (blobs are published whole)
            return None
        with src._open(digest) as f:  # a corrupt source blob raises before publishing
            info = dst.put_stream(_VerifyingReader(f, digest, lambda: src._corrupt(digest)))
        if info.digest != digest:  # pragma: no cover - the reader checked the same bytes
            raise TransferError(f"Blob {digest} was stored as {info.digest}.")
        return info.size

    with ThreadPoolExecutor(BLOB_WORKERS) as pool:
        sizes = list(pool.map(copy_one, digests))
        present = sum(1 for size in sizes if size is None)
        say(f"blobs: {len(digests) - present:,} copied"
            + (f", {present:,} already at the target" if present else ""))
        check = [d for d, size in zip(digests, sizes) if verify_present or size is not None]
        ok = list(pool.map(dst.verify, check))
    return sizes, [d for d, good in zip(check, ok) if not good]
