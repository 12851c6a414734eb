"""Copy a whole store to another database and artifact root, and prove the copy complete.

Used by ``jupyter mlops migrate`` to move from the embedded default (SQLite plus a local
folder) to a team setup (PostgreSQL plus an object store), or back. The source is read, never
written (apart from being migrated to this version's schema, as any open does). The target is
migrated to head first and must be empty; every table is then copied in foreign-key order, in
batches of SQLAlchemy Core inserts, inside ONE target transaction — a copy that fails half way
leaves the target as empty as it was, so it can simply be re-run. Blobs are content-addressed
and immutable, so copying them is idempotent and needs no transaction.

Afterwards every table's row count is compared and every copied blob is re-read from the
target and hashed; any difference raises :class:`TransferError` naming it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Connection, Table, func, select, text, update

from jupyter_mlops.errors import ConflictError, InvalidInputError, MlopsError
from jupyter_mlops.store.engine import read_connection, redact, write_connection

__all__ = ["TransferError", "TransferReport", "migrate_store"]

#: Rows per INSERT batch: large enough to amortise round trips, small enough for memory.
BATCH_ROWS = 2000
#: Blob copies in flight (object stores are latency-bound, so overlap them).
BLOB_WORKERS = 8


class TransferError(MlopsError):
    """The copy finished but does not match its source (a row count or a blob hash)."""


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
        rps = self.rows / self.rows_seconds if self.rows_seconds > 0 else 0.0
        lines.append(f"rows:  {self.rows:,} in {len(self.tables)} tables, "
                     f"{self.rows_seconds:.2f} s ({rps:,.0f} rows/s), counts verified")
        mbps = self.blob_bytes / 1e6 / self.blobs_seconds if self.blobs_seconds > 0 else 0.0
        lines.append(f"blobs: {self.blobs:,} ({self.blob_bytes / 1e6:,.2f} MB) in "
                     f"{self.blobs_seconds:.2f} s ({mbps:,.1f} MB/s), "
                     f"{self.verified_blobs:,} hashes verified at the target")
        for digest in self.missing_blobs:
            lines.append(f"  warning: blob {digest} is referenced but missing at the source")
        lines.extend(self.notes)
        return "\n".join(lines)


def migrate_store(source_url: str, target_url: str, source_artifacts: str | None = None,
                  target_artifacts: str | None = None, *, batch_rows: int = BATCH_ROWS,
                  progress: Callable[[str], None] | None = None) -> TransferReport:
    """Copy every row from ``source_url`` to ``target_url`` and every referenced blob.

    Parameters
    ----------
    source_url, target_url : str
        SQLAlchemy URLs. The target is created/migrated to head and must hold no rows.
    source_artifacts, target_artifacts : str, optional
        Artifact roots (folders or fsspec URLs). Give both to copy blobs, neither to copy
        only rows (e.g. both databases share one object store).
    batch_rows : int
        Rows per INSERT.
    progress : callable, optional
        Called with one line per table / blob phase.

    Returns
    -------
    TransferReport

    Raises
    ------
    InvalidInputError
        Source and target are the same, or only one artifact root was given.
    ConflictError
        The target store already holds rows (nothing is written to it).
    CorruptArtifactError
        A source blob no longer matches its hash (the rows were copied; fix the source with
        ``jupyter mlops gc`` and re-run into a fresh target).
    TransferError
        A row count or a blob hash differs at the target after copying.
    """
    from jupyter_mlops.store.migrate import ensure_schema, upgrade
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

    ensure_schema(source_url)
    upgrade(target_url)
    # Derived tables (the search index's change log) are rebuilt by the target's own triggers.
    tables = [t for t in Base.metadata.sorted_tables if not t.info.get("derived")]
    _require_empty(target_url, tables)

    t0 = time.perf_counter()
    copied: dict[str, int] = {}
    with read_connection(source_url) as src, write_connection(target_url) as dst:
        for table in tables:
            copied[table.name] = _copy_table(src, dst, table, batch_rows)
            if copied[table.name]:
                say(f"{table.name}: {copied[table.name]:,} rows")
        if dst.dialect.name == "postgresql":
            _reset_sequences(dst, tables)
    rows_seconds = time.perf_counter() - t0
    _verify_counts(source_url, target_url, tables, copied)

    blobs = blob_bytes = verified = 0
    missing: tuple[str, ...] = ()
    t1 = time.perf_counter()
    if source_artifacts is not None:
        blobs, blob_bytes, verified, missing = _copy_blobs(
            source_url, source_artifacts, target_artifacts, say)
    blobs_seconds = time.perf_counter() - t1
    return TransferReport(source_url, target_url, copied, blobs, blob_bytes, missing,
                          rows_seconds, blobs_seconds, verified)


# ---------------------------------------------------------------------------- rows
def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


def _require_empty(url: str, tables: list[Table]) -> None:
    with read_connection(url) as conn:
        busy = {t.name: n for t in tables if (n := _count(conn, t))}
    if busy:
        listed = ", ".join(f"{name} ({n:,})" for name, n in list(busy.items())[:5])
        raise ConflictError(
            f"The target store {redact(url)} is not empty: {listed}"
            f"{' …' if len(busy) > 5 else ''}. migrate only copies into an empty store, so "
            "nothing was written; point --to at a new database (or drop this one) and re-run.")


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


def _copy_blobs(source_url: str, source_root: str, target_root: str,
                say: Callable[[str], None]) -> tuple[int, int, int, tuple[str, ...]]:
    from jupyter_mlops.store.blobs import _DIGEST, BlobStore

    src, dst = BlobStore(source_root), BlobStore(target_root)
    required, optional = referenced_digests(source_url)
    optional = {d for d in optional if _DIGEST.fullmatch(d) and src.exists(d)}
    missing = tuple(sorted(d for d in required if not src.exists(d)))
    todo = sorted((required - set(missing)) | optional)

    def copy_one(digest: str) -> int:
        data = src.get_bytes(digest, verify=True)  # a corrupt source blob stops here
        info = dst.put_bytes(data)
        if info.digest != digest:  # pragma: no cover - put_bytes hashes what it wrote
            raise TransferError(f"Blob {digest} was stored as {info.digest}.")
        return info.size

    def verify_one(digest: str) -> bool:
        return dst.verify(digest)

    with ThreadPoolExecutor(BLOB_WORKERS) as pool:
        sizes = list(pool.map(copy_one, todo))
        say(f"blobs: {len(todo):,} copied")
        ok = list(pool.map(verify_one, todo))
    bad = [d for d, good in zip(todo, ok) if not good]
    if bad:
        raise TransferError(
            f"{len(bad)} blob(s) do not match their hash at {target_root!r} after copying "
            f"(first: {bad[0]}). Check the target storage, then run migrate again into a "
            "fresh target.")
    return len(todo), sum(sizes), len(ok), missing

