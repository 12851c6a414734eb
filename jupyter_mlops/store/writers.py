"""Who writes a run: a token naming the process across PID reuse, and a test of its death.

Standard library only: the SQLAlchemy store and the stdlib SQLite write path (``lite``)
share these.
"""

from __future__ import annotations

import os
import socket


_token: tuple[int, str] | None = None


def writer_token() -> str:
    """Identify this process across PID reuse: host, pid and the kernel's start tick.

    Computed once per process (a fork gets its own: the pid is checked), not per run: it
    reads ``/proc``.
    """
    global _token
    pid = os.getpid()
    if _token is None or _token[0] != pid:
        _token = (pid, f"{socket.gethostname()}:{pid}:{_proc_start_ticks(pid)}")
    return _token[1]


def _proc_start_ticks(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # Field 22; the command name (field 2) may contain spaces, so split after ")".
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return "?"
    if fields[:1] in ([b"Z"], [b"X"]):
        # Exited, not yet reaped (an orphan waits for init, which may take a while): the
        # pid still answers kill(pid, 0), but the process will never write again.
        return "exited"
    try:
        return fields[19].decode()
    except IndexError:
        return "?"


def writer_is_dead(token: str | None) -> bool:
    """True only when we can prove the writer process on *this* host is gone."""
    if not token:
        return False
    host, _, rest = token.partition(":")
    pid_s, _, ticks = rest.partition(":")
    if host != socket.gethostname() or not pid_s.isdigit():
        return False
    pid = int(pid_s)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return ticks not in ("", "?") and _proc_start_ticks(pid) not in (ticks, "?")


def run_is_dead(heartbeat_at: float, owner: str | None, attached, cutoff: float) -> bool:
    """The reaper's rule: no heartbeat since ``cutoff`` (the only sign from other hosts), or
    the owner and every attached writer provably gone on this host."""
    if heartbeat_at < cutoff:
        return True
    return writer_is_dead(owner) and all(writer_is_dead(w) for w in attached)
