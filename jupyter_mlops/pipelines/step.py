"""One attempt of one step, as it runs on a worker (a local thread or a Dask worker).

:func:`execute_step` takes a picklable :class:`StepTask` and returns a :class:`StepOutcome`;
it touches no database, only the blob store (so a worker on another machine needs the
artifact root, not the metadata store). The status comes from what happened in the kernel,
never from an exit code, and agrees with papermill's (:mod:`jupyter_mlops.tracking.outcome`):

- an ``error`` output in any code cell → FAILED, also in a cell tagged ``raises-exception``
  (nbclient runs on past it, and papermill then fails the notebook all the same) — except
  ``sys.exit()`` / ``sys.exit(0)`` / ``raise SystemExit``, which end the notebook early and
  successfully (the cells after it never run, as under papermill);
- a kernel that died, or a code cell that never ran → FAILED;
- the step's wall-clock ``timeout`` passing → the kernel's whole process group is killed,
  the running cell gets an error output saying so, and the attempt is FAILED.

Errors name the failing cell as ``(cell N)``: its position in the user's own notebook file,
counting every cell from 1 (markdown too), not in papermill's executed copy (which has an
injected parameters cell, and error banners papermill adds or removes).

The executed notebook is uploaded in every case; declared outputs only after a success.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.tracking.outcome import is_clean_exit

if TYPE_CHECKING:  # kernels (asyncio, jupyter_client) load with the first real attempt
    from jupyter_mlops.pipelines.kernels import StepKernel

#: Cells papermill adds to the executed notebook (not the user's; not counted in "cell N").
PAPERMILL_TAGS = frozenset({"injected-parameters", "papermill-error-cell-tag"})


@dataclasses.dataclass(frozen=True)
class StepTask:
    """Everything a worker needs to run one attempt (plain data: it crosses processes)."""

    pipeline: str
    step: str
    attempt: int
    notebook: str  # absolute path
    cwd: str
    parameters: dict[str, Any]
    kernel: str
    timeout: float | None
    env: dict[str, str]  # MLOPS_* for the kernel
    artifact_root: str
    outputs: tuple[tuple[str, str], ...]  # (name, absolute path)


@dataclasses.dataclass(frozen=True)
class StepOutcome:
    step: str
    attempt: int
    status: str  # SUCCEEDED or FAILED
    error: str | None
    error_kind: str | None  # cell_error, timeout, dead_kernel, not_executed, missing_output…
    cell_index: int | None
    notebook_digest: str | None
    notebook_size: int | None
    outputs: dict[str, dict]
    started_at: float
    ended_at: float
    kernel_pid: int | None
    worker: str


def warm_up() -> str:
    """Import what a step needs (run once per worker so the first step does not pay)."""
    from jupyter_client.manager import AsyncKernelManager  # noqa: F401

    from jupyter_mlops.pipelines.papermill_loader import import_papermill

    import_papermill()

    return f"{socket.gethostname()}:{os.getpid()}"


class _Attempt:
    """The kernel(s) of one running attempt, seen by its watchdog and by an abort."""

    def __init__(self):
        self.kernels: list[StepKernel] = []
        self.timed_out = threading.Event()
        self.stopped = threading.Event()  # the pipeline was interrupted

    def check(self) -> None:
        if self.timed_out.is_set() or self.stopped.is_set():
            raise _StoppedBeforeStart()


class _StoppedBeforeStart(Exception):
    """The timeout passed, or the pipeline was interrupted, before the kernel was ready."""

    def __str__(self) -> str:
        return "stopped before the kernel was ready"


def execute_step(task: StepTask, kernel: StepKernel | None = None,
                 attempts: Attempts | None = None) -> StepOutcome:
    """Run ``task`` with papermill in a kernel of its own and report what happened.

    ``kernel``: one a :class:`~jupyter_mlops.pipelines.kernels.KernelPool` started ahead of
    time for this task (taken by the executor when it submitted the task); without it, or if
    it failed to start, the kernel is started here. Either way it serves this attempt only
    and is shut down before this returns. ``attempts``: the executor's registry, through
    which an abort stops this attempt.
    """
    started = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="mlops-step-"))
    out_path = tmp / f"{task.step}.executed.ipynb"
    registry = attempts if attempts is not None else _UNMANAGED
    att = registry.open()
    holder, timed_out = att.kernels, att.timed_out
    timer = None
    if task.timeout:
        timer = threading.Timer(task.timeout, _kill_kernel, (att, timed_out))
        timer.daemon = True
    error, kind, cell_index = None, None, None
    log_note = ""  # the kernel's last words, after the message
    finished = False  # the notebook ran to its end or to a failing cell: the kernel is idle
    try:
        from jupyter_mlops.pipelines.papermill_loader import import_papermill

        pm = import_papermill()
        from papermill.exceptions import PapermillExecutionError

        if timer is not None:
            timer.start()
        try:
            sk = _acquire_kernel(task, kernel, att)
            # No `cwd=` here: papermill would chdir the whole process. The kernel already
            # runs in the step's folder with the step's environment.
            pm.execute_notebook(
                task.notebook, str(out_path), parameters=dict(task.parameters),
                kernel_name=task.kernel, progress_bar=False, log_output=False, km=sk.km)
            finished = True
        except PapermillExecutionError as exc:
            # The executed notebook names the cell (in the user's numbering, below); this
            # stands only if papermill wrote none.
            finished = True
            error, kind = f"{exc.ename}: {exc.evalue}", "cell_error"
        except Exception as exc:  # DeadKernelError, CellTimeoutError, kernel start failure…
            if timed_out.is_set():
                error, kind = (f"timed out after {task.timeout:g} s; the kernel was "
                               "stopped"), "timeout"
            elif type(exc).__name__ == "DeadKernelError":
                error, kind = f"the kernel died ({exc})", "dead_kernel"
            else:
                error, kind = f"{type(exc).__name__}: {exc}", "exception"
            log_tail = _tail(holder[-1].log_path) if holder else ""
            if log_tail and kind != "timeout":
                log_note = f"; kernel log: {log_tail}"
    finally:
        if timer is not None:
            timer.cancel()
        pid = holder[-1].pid if holder else None
        for k in holder:  # leave no kernel (or anything it spawned) behind
            with contextlib.suppress(Exception):
                k.stop(graceful=finished and not timed_out.is_set())
            k.remove_files()
        registry.close(att)
    try:
        raw = out_path.read_bytes() if out_path.is_file() else None
        nb = json.loads(raw) if raw else None
        if nb is not None:
            source = _read_notebook(task.notebook)
            found = analyse(nb, source)
            if kind in ("timeout", "dead_kernel"):
                cell_index = user_cell_index(nb, source, _mark_interrupted(nb, error))
                if cell_index is not None:
                    error += f" (cell {cell_index + 1})"
                raw = None  # changed: serialise again
            elif (error is None or kind == "cell_error") and found is not None:
                cell_index, error, kind = found
            data = raw if raw is not None else json.dumps(nb, indent=1,
                                                          ensure_ascii=False).encode()
        else:
            data = None
            if error is None:
                error, kind = "papermill wrote no executed notebook", "exception"
        if error is not None:
            error += log_note
        from jupyter_mlops.store.blobs import BlobStore

        blobs = BlobStore(task.artifact_root)
        nb_info = blobs.put_bytes(data) if data is not None else None
        outputs: dict[str, dict] = {}
        if error is None:
            outputs, missing = _store_outputs(blobs, task.outputs, task.cwd)
            if missing:
                error, kind = (f"declared output(s) not written: {', '.join(missing)}",
                               "missing_output")
        return StepOutcome(
            step=task.step, attempt=task.attempt, status="FAILED" if error else "SUCCEEDED",
            error=error, error_kind=kind, cell_index=cell_index,
            notebook_digest=nb_info.digest if nb_info else None,
            notebook_size=nb_info.size if nb_info else None, outputs=outputs,
            started_at=started, ended_at=time.time(), kernel_pid=pid,
            worker=f"{socket.gethostname()}:{os.getpid()}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _acquire_kernel(task: StepTask, kernel: StepKernel | None, att: _Attempt) -> StepKernel:
    """The attempt's kernel: ``kernel`` (started ahead of time) once it is up and has the
    attempt's variables, else a new one started now."""
    from jupyter_mlops.pipelines.kernels import START_TIMEOUT, KernelKey, StepKernel

    holder = att.kernels
    if kernel is not None:
        # In the holder before any check, so an abort from now on kills it (and an abort
        # that came earlier is seen by the check below): no notebook starts after an abort.
        holder.append(kernel)
        att.check()
        try:
            if kernel.ready.wait(START_TIMEOUT) and kernel.error is None and kernel.alive():
                kernel.prepare(task.env)
                att.check()
                return kernel
        except Exception:  # noqa: BLE001, S110 - it died meanwhile: start one as without a pool
            pass
        holder.remove(kernel)
        kernel.discard()
    att.check()
    sk = StepKernel(KernelKey.of(task.kernel, task.cwd, task.env), task.env)
    holder.append(sk)
    sk.start()
    att.check()  # stopped while starting: do not run the notebook
    return sk


def analyse(nb: dict, source: dict | None = None) -> tuple[int | None, str, str] | None:
    """First problem in an executed notebook: ``(cell index, message, kind)`` or None.

    ``source``: the notebook as the user wrote it; the index and the "(cell N)" of the
    message are positions in it (see :func:`user_cell_index`). A clean ``SystemExit`` ends
    the search: papermill counts it a success, and the cells after it never ran on purpose.
    """
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata") or {}
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            if is_clean_exit(out.get("ename"), out.get("evalue")):
                return None
            at, label = _where(nb, source, i)
            return at, f"{out.get('ename')}: {out.get('evalue')} ({label})", "cell_error"
        if (meta.get("papermill") or {}).get("exception") is True:
            # The kernel answered "error" without an error output (IPython prints a
            # UsageError to stderr instead); papermill fails the notebook all the same.
            at, label = _where(nb, source, i)
            said = _last_stderr_line(cell)
            return at, (f"{said} ({label})" if said else
                        f"{label} failed without an error message"), "cell_error"
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        if src.strip() and cell.get("execution_count") is None:
            at, label = _where(nb, source, i)
            return at, f"{label} never ran", "not_executed"
    return None


def user_cell_index(nb: dict, source: dict | None, index: int | None) -> int | None:
    """Where cell ``index`` of papermill's executed notebook ``nb`` is in ``source``.

    papermill's copy differs from the user's file only by its own cells (the injected
    parameters, error banners — added after a failure, removed from an input that had
    them); the user's cells keep their order. So the executed cell is the k-th cell that is
    not papermill's in both. None: a cell of papermill's own (the injected parameters), or
    the user's notebook could not be read (then no number is better than a wrong one).
    """
    cells = nb.get("cells", [])
    if index is None or not 0 <= index < len(cells) or source is None \
            or _is_papermills(cells[index]):
        return None
    k = sum(1 for c in cells[:index] if not _is_papermills(c))
    own = [i for i, c in enumerate(source.get("cells", [])) if not _is_papermills(c)]
    return own[k] if k < len(own) else None


def _is_papermills(cell: dict) -> bool:
    tags = (cell.get("metadata") or {}).get("tags") or []
    return any(t in PAPERMILL_TAGS for t in tags)


def _last_stderr_line(cell: dict) -> str | None:
    for out in reversed(cell.get("outputs", [])):
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            text = out.get("text", "")
            lines = [ln for ln in ("".join(text) if isinstance(text, list) else text
                                   ).splitlines() if ln.strip()]
            if lines:
                return lines[-1].strip()[:500]
    return None


def _where(nb: dict, source: dict | None, index: int) -> tuple[int | None, str]:
    """The user's index of executed cell ``index``, and how a message names it."""
    at = user_cell_index(nb, source, index)
    if at is not None:
        return at, f"cell {at + 1}"
    if _is_papermills(nb["cells"][index]):
        return None, "papermill's injected parameters cell"
    return None, f"cell {index + 1} of the executed notebook"


def _read_notebook(path: str) -> dict | None:
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return nb if isinstance(nb, dict) else None


def _mark_interrupted(nb: dict, message: str) -> int | None:
    """Put the reason on the cell that was running when the kernel stopped."""
    last = running = None
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("execution_count") is not None:
            last = i
        # papermill stamps a cell's start_time before it sends the cell to the kernel; the
        # execution count may never arrive (a segfault can beat the kernel's
        # execute_input), so the last started cell is the one that was running.
        if cell.get("metadata", {}).get("papermill", {}).get("start_time"):
            running = i
    if running is not None:
        last = running
    if last is None:
        return None
    cell = nb["cells"][last]
    cell.setdefault("outputs", []).append({
        "output_type": "error", "ename": "StepInterrupted", "evalue": message,
        "traceback": [f"jupyter-mlops: {message}"]})
    meta = cell.setdefault("metadata", {}).setdefault("papermill", {})
    meta.update({"exception": True, "status": "failed"})
    return last


def _store_outputs(blobs, outputs, cwd: str) -> tuple[dict[str, dict], list[str]]:
    stored: dict[str, dict] = {}
    missing: list[str] = []
    for name, path in outputs:
        p = Path(path)
        if p.is_file():
            info = blobs.put_file(p)
            stored[name] = {"path": _rel(p, cwd), "digest": info.digest, "size": info.size}
        elif p.is_dir():
            from jupyter_mlops.hashing import hash_path

            files = {}
            size = 0
            for f in sorted(x for x in p.rglob("*") if x.is_file()):
                info = blobs.put_file(f)
                files[f.relative_to(p).as_posix()] = info.digest
                size += info.size
            stored[name] = {"path": _rel(p, cwd), "digest": hash_path(p), "size": size,
                            "files": files}
        else:
            missing.append(f"{name} ({path})")
    return stored, missing


def _rel(p: Path, cwd: str) -> str:
    try:
        return p.resolve().relative_to(Path(cwd).resolve()).as_posix()
    except ValueError:
        return str(p)


def _tail(path: Path, limit: int = 1500) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    lines = [ln for ln in text.splitlines() if "running over TCP without encryption" not in ln]
    return "\n".join(lines).strip()[-limit:]


class Attempts:
    """The attempts one executor runs in this process, so that its abort reaches them all:
    a running attempt has its kernel killed, one that has not got its kernel yet never runs
    its notebook — whatever point it had reached when the abort came (a step thread may still
    be importing papermill, or waiting for a kernel started ahead of time). Each executor
    has its own: aborting one pipeline never touches the kernels of another in the process.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._live: set[_Attempt] = set()
        self._stopped = False

    def open(self) -> _Attempt:
        att = _Attempt()
        with self._lock:
            if self._stopped:  # the abort came before this attempt began
                att.stopped.set()
            self._live.add(att)
        return att

    def close(self, att: _Attempt) -> None:
        with self._lock:
            self._live.discard(att)

    def stop_all(self) -> None:
        with self._lock:
            self._stopped = True
            attempts = list(self._live)
        for att in attempts:
            att.stopped.set()
            _kill_group(att)


#: For attempts run without an executor's registry (a reproduce check, a Dask worker).
_UNMANAGED = Attempts()


def _kill_kernel(att: _Attempt, flag: threading.Event) -> None:
    flag.set()
    _kill_group(att)


def _kill_group(att: _Attempt) -> None:
    """SIGKILL the kernel's process group (jupyter_client starts each kernel in its own).

    A process group id cannot be reused while any member lives, so signalling the group
    after the kernel itself exited only reaches what it left behind.
    """
    for kernel in list(att.kernels):
        kernel._kill()
