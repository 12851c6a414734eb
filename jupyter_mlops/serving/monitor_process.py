"""The model server's monitor in a child process, and the pipe protocol to it.

:class:`~jupyter_mlops.serving.sink.PredictionSink` hands each batch of served rows to
:class:`MonitorProcess`, which writes it to a child (:func:`worker_main`, started with
``sys.executable``) that owns the monitor's windows: log_predictions, ticks, window closes.
Why a process and not a thread: see the sink's docstring (the window closes held the GIL the
event loop needs). The child runs at a lower CPU priority (:data:`MONITOR_NICE`), ignores
SIGINT/SIGTERM (the server's process group gets them; the child ends when its input does,
after the server sent what was queued) and reports rows logged and errors on a second pipe.
"""

from __future__ import annotations

import io
import json
import logging
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Seconds the server waits at start-up for the monitor's process to be ready.
WORKER_START_TIMEOUT = 120.0
#: How much lower the monitor process's CPU priority is than the server's (``nice``;
#: ``MLOPS_SERVE_MONITOR_NICE`` overrides it).
MONITOR_NICE = 10
_LEN = struct.Struct(">I")


# ---------------------------------------------------------------------- the wire
# A message is a 4-byte big-endian length, that many bytes of a JSON head, then ``payload``
# bytes: one ``.npy`` record (numpy.lib.format, allow_pickle=False) per array the head
# announces. A DataFrame travels column by column: NumPy columns (numbers, booleans,
# datetimes) as ``.npy``, any other column as a JSON list in the head.
def _write_message(out, head: dict, frame=None, preds=None, ts=None) -> None:
    arrays: list[np.ndarray] = []
    if isinstance(frame, tuple):  # (2-D array, column names): one .npy
        head = {**head, "matrix": [str(c) for c in frame[1]]}
        arrays.append(np.ascontiguousarray(frame[0]))
    elif frame is not None:
        cols, lists = [], {}
        for name in frame.columns:
            values = frame[name].to_numpy()
            if values.dtype.kind in "biufcmM":
                cols.append(str(name))
                arrays.append(np.ascontiguousarray(values))
            else:
                lists[str(name)] = [_jsonable(v) for v in values.tolist()]
        head = {**head, "columns": [str(c) for c in frame.columns], "npy_columns": cols,
                "list_columns": lists}
    for key, arr in (("preds", preds), ("ts", ts)):
        if arr is None:
            continue
        arr = np.asarray(arr)
        if arr.dtype.kind in "biufcmMUS":
            head[key] = "npy"
            arrays.append(np.ascontiguousarray(arr))
        else:
            head[key] = [_jsonable(v) for v in arr.tolist()]
    payload = io.BytesIO()
    for arr in arrays:
        np.lib.format.write_array(payload, arr, allow_pickle=False)
    head["payload"] = payload.tell()
    data = json.dumps(head, default=str).encode()
    out.write(_LEN.pack(len(data)) + data + payload.getvalue())
    out.flush()


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (str, bool, int)):
        return v
    if isinstance(v, float):
        return None if v != v else v  # NaN → null; pandas reads a null back as missing
    import pandas as pd

    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def _read_exact(stream, n: int) -> bytes | None:
    data = stream.read(n)
    if not data or len(data) < n:
        return None
    return data


def _read_message(stream) -> tuple[dict, Any, Any, Any] | None:
    """(head, frame, preds, ts) of the next message, or None at the end of the stream."""
    size = _read_exact(stream, _LEN.size)
    if size is None:
        return None
    data = _read_exact(stream, _LEN.unpack(size)[0])
    if data is None:
        return None
    head = json.loads(data)
    payload = _read_exact(stream, head["payload"]) if head.get("payload") else b""
    if payload is None:
        return None
    stream = io.BytesIO(payload)  # numpy reads .npy from a pipe only through a buffer
    frame = preds = ts = None
    if "matrix" in head:
        import pandas as pd

        frame = pd.DataFrame(np.lib.format.read_array(stream, allow_pickle=False),
                             columns=head["matrix"])
    elif "columns" in head:
        import pandas as pd

        values = {name: np.lib.format.read_array(stream, allow_pickle=False)
                  for name in head["npy_columns"]}
        values.update(head["list_columns"])
        frame = pd.DataFrame({name: values[name] for name in head["columns"]})
    for key in ("preds", "ts"):
        arr: np.ndarray | None = None
        if head.get(key) == "npy":
            arr = np.lib.format.read_array(stream, allow_pickle=False)
        elif key in head:
            arr = np.asarray(head[key], dtype=object)
        if key == "preds":
            preds = arr
        else:
            ts = arr
    return head, frame, preds, ts


class MonitorProcess:
    """The child process that owns the monitor's windows, and the pipes to it."""

    def __init__(self, proc: subprocess.Popen, acks: threading.Thread):
        self.proc = proc
        self.acks = acks

    @classmethod
    def start(cls, monitor, sink) -> "MonitorProcess":
        location = getattr(monitor.client, "location", None)
        uri = getattr(location, "tracking_uri", None)
        if location is None or not uri or ":memory:" in uri:
            raise RuntimeError("the store is not one another process can open")
        # The folder holding this package (not `import jupyter_mlops`: a front door importing
        # the package's top would import the others, which the layering forbids).
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        read_acks, write_acks = os.pipe()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c",
                 "from jupyter_mlops.serving.monitor_process import worker_main; "
                 f"worker_main({write_acks})"],
                stdin=subprocess.PIPE, pass_fds=(write_acks,), env=env, close_fds=True)
        finally:
            os.close(write_acks)
        acks = os.fdopen(read_acks, "rb")
        # The store's URL may hold a password: it goes through the pipe, not the command line.
        _write_message(proc.stdin, {"op": "open", "monitor": monitor.name, "uri": uri,
                                    "artifact_root": location.artifact_root})
        import select

        ready_to_read, _, _ = select.select([acks], [], [], WORKER_START_TIMEOUT)
        first = acks.readline() if ready_to_read else b""
        try:
            ready = json.loads(first) if first else {}
        except ValueError:
            ready = {}
        if not ready.get("ready"):
            proc.kill()
            proc.wait()
            acks.close()
            raise RuntimeError(ready.get("error") or "the monitor process did not start")
        thread = threading.Thread(target=cls._read_acks, args=(acks, sink),
                                  name="mlops-monitor-acks", daemon=True)
        thread.start()
        return cls(proc, thread)

    @staticmethod
    def _read_acks(acks, sink) -> None:
        """What the child reports (rows logged, errors) → the sink's and the monitor's
        counters, which ``/metrics`` shows."""
        with acks:
            for line in acks:
                try:
                    ack = json.loads(line)
                except ValueError:
                    continue
                logged = int(ack.get("logged", 0))
                sink.logged_rows += logged
                sink.monitor.predictions_logged += logged
                sink.errors += int(ack.get("errors", 0))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, head: dict, frame=None, preds=None, ts=None) -> None:
        _write_message(self.proc.stdin, head, frame, preds, ts)

    def discard(self) -> None:
        """Let go of an exited child's pipe."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except (OSError, ValueError):
            pass
        self.proc.wait()

    def finish(self, flush: bool, timeout: float) -> None:
        """Ask the child to close the open window (if ``flush``) and exit; wait for it."""
        try:
            if self.alive():
                self.send({"op": "stop", "flush": flush})
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("the monitor process did not finish in %.0f s; ending it", timeout)
            self.proc.kill()
            self.proc.wait()
        self.acks.join(5.0)


def worker_main(ack_fd: int) -> None:
    """The child: read batches from stdin and log them to the monitor; at the end of the
    stream (the server stopped, or died) close the open window and exit."""
    import signal

    # The server's process group gets Ctrl-C/SIGTERM too: the child ends when its input
    # does, after the server has sent what was queued.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:  # background work: when the cores are busy, the server's requests go first
        os.nice(int(os.environ.get("MLOPS_SERVE_MONITOR_NICE", MONITOR_NICE)))
    except (OSError, ValueError, AttributeError):
        pass
    logging.basicConfig(level=logging.WARNING,
                        format="monitor process: %(levelname)s %(name)s: %(message)s")
    stdin = sys.stdin.buffer
    acks = os.fdopen(ack_fd, "w", buffering=1)

    def ack(**fields) -> None:
        try:
            acks.write(json.dumps(fields) + "\n")
        except (OSError, ValueError):
            pass

    try:
        first = _read_message(stdin)
        if first is None:
            return
        head = first[0]
        from jupyter_mlops.client import Client
        from jupyter_mlops.monitoring.monitor import get_monitor

        monitor = get_monitor(head["monitor"],
                              client=Client(head["uri"], head["artifact_root"]))
    except Exception as exc:
        ack(ready=False, error=f"{type(exc).__name__}: {exc}")
        return
    ack(ready=True)
    flush = True
    while True:
        try:
            message = _read_message(stdin)
        except Exception:
            log.exception("unreadable message from the server; stopping")
            message = None
        if message is None:
            break
        head, frame, preds, ts = message
        op = head.get("op")
        if op == "stop":
            flush = bool(head.get("flush", True))
            break
        try:
            if op == "log":
                kwargs = {"ids": head["ids"]} if head.get("ids") is not None else {}
                monitor.log_predictions(frame, preds, timestamp=ts,
                                        model_version=head.get("version"), **kwargs)
                ack(logged=len(frame))
            elif op == "tick":
                monitor.tick()
            elif op == "flush":
                monitor.flush()
        except Exception:
            log.exception("monitor %s: %s failed", monitor.name, op)
            ack(errors=1)
    if flush:
        try:
            monitor.flush()
        except Exception:
            log.exception("monitor %s: could not close the last window", monitor.name)
            ack(errors=1)
    acks.close()
