"""Rows the store refuses at write time: found by bisection, set aside, replayed later.

Validation at the call (:mod:`jupyter_mlops.validation`) keeps invalid values out of the write
buffer, but a store can still refuse a row the checks let through (a constraint, a value one
backend cannot hold, a bug). Re-queueing such a row would fail every later flush, so the
writer isolates it instead: :func:`isolate` splits the run's batch in halves until the refused
rows are alone, writing every other row on the way (k bad rows among n cost O(k log n)
writes), and :class:`DeadLetterFile` keeps the refused rows, one JSON object per line.

Where the file lives: ``dead-letter.jsonl`` in the store's local folder — the folder of the
SQLite file, else the project's ``.mlops/`` (or ``MLOPS_HOME``). Not in the database, which
has just refused the rows; not under the artifact root, which may be an object store that
cannot append; and always on the machine whose process held the rows, so setting them aside
needs nothing but a local disk. Each line names its store (password hidden), so stores that
share a folder share the file without mixing their rows. ``jupyter mlops dead-letter list``
shows them and ``jupyter mlops dead-letter replay`` writes back those that are now accepted.

Only errors that are about the *data* set rows aside (:func:`refuses_row`): a store that is
down, locked or full refuses every row alike, and its batches stay queued for a retry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from jupyter_mlops.errors import AlreadyExistsError, InvalidInputError, NotFoundError

FILE_NAME = "dead-letter.jsonl"
FORMAT_VERSION = 1
KINDS = ("metric", "param", "tag")

#: One queued row: ``("metric", key, value, step, ts)``, ``("param", key, value)`` or
#: ``("tag", key, value)``.
Item = tuple


class DeadLetterWarning(UserWarning):
    """Rows were set aside in the dead-letter file (the message says how to recover them)."""


# ----------------------------------------------------------------------------- isolating
def refuses_row(exc: BaseException) -> bool:
    """True when ``exc`` is about the data written, so retrying the same rows cannot help.

    The store says what ``exc`` means in our own error types (:func:`store_error`): a value
    the backend cannot hold or a constraint the row breaks (``InvalidInputError``,
    ``AlreadyExistsError``) is the row's fault. A store that is unreachable, locked, full or
    of another schema (``StoreUnavailableError``), or a run deleted meanwhile
    (``NotFoundError``), is not: every row would fail alike, and setting them all aside would
    only move the outage.
    """
    # Imported here: it imports SQLAlchemy, which a first run on SQLite never loads (store.lite).
    from jupyter_mlops.store.refusals import store_error

    return isinstance(store_error(exc), (InvalidInputError, AlreadyExistsError))


@dataclasses.dataclass
class Isolated:
    """What :func:`isolate` did: rows refused (with why), and the rows left unwritten when
    an error that is not about the rows (``error``) stopped it."""

    refused: list[tuple[Item, BaseException]]
    remaining: list[Item]
    error: BaseException | None


def write_items(runs, run_id: str, items: Sequence[Item]) -> None:
    """Write ``items`` of one run in one transaction through ``RunStore.log_batch``."""
    runs.log_batch(
        run_id,
        params=[(i[1], i[2]) for i in items if i[0] == "param"],
        tags=[(i[1], i[2]) for i in items if i[0] == "tag"],
        metrics=[(i[1], i[2], i[3], i[4]) for i in items if i[0] == "metric"])


def isolate(runs, run_id: str, items: Sequence[Item],
            failed_with: BaseException | None = None) -> Isolated:
    """Write every row of ``items`` the store accepts; return the ones it refuses.

    ``failed_with`` is the error writing all of ``items`` at once already raised (the
    caller's attempt): the work then starts from the two halves. Halves are written left to
    right, so when an error that is not about the rows stops the work (the store went away,
    the run was deleted), exactly ``remaining`` is unwritten.
    """
    refused: list[tuple[Item, BaseException]] = []
    n = len(items)
    if failed_with is None or n == 0:
        todo = [(0, n)]  # a stack of [start, end) ranges, leftmost on top
    elif n == 1:
        return Isolated([(items[0], failed_with)], [], None)
    else:
        todo = [(n // 2, n), (0, n // 2)]
    while todo:
        start, end = todo.pop()
        try:
            write_items(runs, run_id, items[start:end])
        except Exception as exc:
            if not refuses_row(exc):
                rest = [items[start:end]] + [items[s:e] for s, e in reversed(todo)]
                return Isolated(refused, [i for part in rest for i in part], exc)
            if end - start == 1:
                refused.append((items[start], exc))
            else:
                mid = (start + end) // 2
                todo += [(mid, end), (start, mid)]
    return Isolated(refused, [], None)


# ----------------------------------------------------------------------------- the file
@dataclasses.dataclass(frozen=True)
class DeadRow:
    """One row set aside: which store and run, what it was, why it was refused, when."""

    store: str
    run_id: str
    kind: str
    key: Any
    value: Any
    step: Any
    timestamp: Any
    error: str
    at: float

    def item(self) -> Item:
        if self.kind == "metric":
            return ("metric", self.key, self.value, self.step, self.timestamp)
        return (self.kind, self.key, self.value)

    def to_json(self) -> str:
        # ensure_ascii: a lone surrogate becomes "\udcff" and reads back as itself, so the
        # file stays valid UTF-8 whatever the row held. NaN/inf are written as NaN/Infinity,
        # which json.loads reads back.
        return json.dumps({"v": FORMAT_VERSION, **dataclasses.asdict(self)}, ensure_ascii=True,
                          default=repr)

    @classmethod
    def from_json(cls, data: dict) -> DeadRow:
        at = data.get("at")
        return cls(store=str(data.get("store", "")), run_id=data.get("run_id"),
                   kind=data.get("kind"), key=data.get("key"), value=data.get("value"),
                   step=data.get("step"), timestamp=data.get("timestamp"),
                   error=str(data.get("error", "")),
                   at=float(at) if isinstance(at, (int, float)) else 0.0)

    @classmethod
    def of(cls, store: str, run_id: str, item: Item, error: BaseException | str) -> DeadRow:
        kind = item[0]
        step, ts = (item[3], item[4]) if kind == "metric" else (None, None)
        reason = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        return cls(store=store, run_id=run_id, kind=kind, key=item[1], value=item[2], step=step,
                   timestamp=ts, error=reason.splitlines()[0][:500] if reason else "",
                   at=time.time())


@dataclasses.dataclass(frozen=True)
class ReplayReport:
    """What :meth:`DeadLetterFile.replay` did."""

    written: int
    kept: list[DeadRow]
    dropped: list[DeadRow]


class DeadLetterFile:
    """The dead-letter file of one store: append refused rows, list them, replay them.

    Every operation holds an exclusive ``flock`` on ``<file>.lock`` so the writer threads of
    several processes and a replay never interleave; replay rewrites the file atomically
    (temporary file, fsync, rename), so a crash leaves the old or the new content.
    """

    def __init__(self, url: str, path: Path | None = None):
        from jupyter_mlops.store.engine import redact

        self.url = url
        self.store = redact(url)
        self.path = Path(path) if path is not None else dead_letter_path(url)

    def __repr__(self) -> str:
        return f"<DeadLetterFile {self.path} of {self.store}>"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, run_id: str, refused: Sequence[tuple[Item, BaseException]]) -> list[DeadRow]:
        """Add refused rows durably (fsync) and return them as written."""
        rows = [DeadRow.of(self.store, run_id, item, exc) for item, exc in refused]
        data = "".join(r.to_json() + "\n" for r in rows).encode("ascii")
        with self._locked():
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
        return rows

    def rows(self) -> list[DeadRow]:
        """The rows set aside for this store, oldest first."""
        with self._locked():
            return [DeadRow.from_json(d) for _, d in self._read() if self._mine(d)]

    def _mine(self, data: dict | None) -> bool:
        return data is not None and data.get("store") == self.store

    def _read(self) -> list[tuple[str, dict | None]]:
        """Every line with its parsed object (None for a line that is not a JSON object: a
        torn last line after a power cut, a hand edit; kept as it is, never fatal)."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="surrogateescape")
        except FileNotFoundError:
            return []
        out: list[tuple[str, dict | None]] = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError:
                data = None
            out.append((line, data if isinstance(data, dict) else None))
        return out

    def replay(self, runs, drop: bool = False) -> ReplayReport:
        """Re-validate every row of this store and write those now accepted.

        Rows still invalid or still refused stay in the file (with the new reason), or are
        removed with ``drop=True``. A store outage stops the replay: what was written is
        removed from the file, the rest stays, and the error is raised. Lines of other stores
        (and unreadable lines) are kept as they are. A crash after writing but before the
        file is rewritten leaves the rows in it, and replaying them again adds a metric point
        a second time (params and tags are simply set again).
        """
        written, kept, dropped = 0, [], []
        with self._locked():
            everything = self._read()
            others = [line for line, d in everything if not self._mine(d)]
            mine = [DeadRow.from_json(d) for _, d in everything if self._mine(d)]
            by_run: dict[Any, list[DeadRow]] = {}
            for row in mine:
                problem = _invalid(row)
                if problem is not None:
                    (dropped if drop else kept).append(dataclasses.replace(row, error=problem))
                else:
                    by_run.setdefault(row.run_id, []).append(row)
            stop: BaseException | None = None
            for run_id, rows in by_run.items():
                if stop is not None:
                    kept += rows
                    continue
                items = [r.item() for r in rows]
                index = {id(i): r for i, r in zip(items, rows)}
                done = isolate(runs, run_id, items)
                failed = {id(i) for i, _ in done.refused} | {id(i) for i in done.remaining}
                written += len(items) - len(failed)
                for item, exc in done.refused:
                    row = dataclasses.replace(index[id(item)],
                                              error=f"{type(exc).__name__}: {exc}"[:500])
                    (dropped if drop else kept).append(row)
                if isinstance(done.error, NotFoundError):  # the run was deleted
                    gone = [dataclasses.replace(index[id(i)], error=str(done.error)[:500])
                            for i in done.remaining]
                    (dropped if drop else kept).extend(gone)
                elif done.error is not None:
                    stop = done.error
                    kept += [index[id(i)] for i in done.remaining]
            self._rewrite(others, kept)
        if stop is not None:
            raise stop
        return ReplayReport(written, kept, dropped)

    def _rewrite(self, others: list[str], kept: list[DeadRow]) -> None:
        lines = others + [r.to_json() for r in kept]
        if not lines:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write("".join(line + "\n" for line in lines))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


def dead_letter_path(url: str) -> Path:
    """``dead-letter.jsonl`` in the local folder of the store at ``url`` (see module doc)."""
    from jupyter_mlops.config import default_home, resolve_locations

    local = resolve_locations(url).local_dir or default_home()
    return Path(local) / FILE_NAME


def _invalid(row: DeadRow) -> str | None:
    """Why ``row`` would be refused at the call today (the validation layer), or None."""
    from jupyter_mlops import validation as v

    try:
        v.check_run_id(row.run_id)
        if row.kind == "metric":
            v.check_key(row.key, "metric name")
            v.to_metric_value(row.key, row.value)
            v.check_step(row.step)
            v.check_timestamp(row.timestamp)
        elif row.kind in ("param", "tag"):
            v.check_key(row.key, f"{row.kind} name")
            v.to_param_value(row.key, row.value, row.kind)
        else:
            return f"unknown kind {row.kind!r} (this file was written by another version?)"
    except InvalidInputError as exc:
        return str(exc)
    return None
