"""What the cold benchmarks share: the CLI command, a clean environment, one timed child.

Wall time is taken around the child; CPU time (user+sys) is the child's own, from ``wait4``,
which stays meaningful on a busy machine where wall time does not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def cli_command() -> list[str]:
    """The ``jupyter-mlops`` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("jupyter-mlops")
    return [str(script)] if script.exists() else [sys.executable, "-m", "jupyter_mlops.cli"]


def clean_env() -> dict[str, str]:
    """This environment without MLOPS_* variables (each sample resolves its store itself) and
    without PYTHONDONTWRITEBYTECODE: a user's install has bytecode (pip compiles it), and with
    it set, as in some sandboxes, every sample would compile the package from source."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("MLOPS_") and k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str], cwd: str, env: dict,
          expect: bytes | None = None) -> tuple[float, float]:
    """Run ``cmd`` to its end; (wall seconds, child CPU seconds). Exits on failure, and when
    ``expect`` is given and its output lacks it (a sample that did not do what is timed)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) or (expect is not None and expect not in out):
        sys.exit(f"FAILED: {' '.join(cmd)}\n{out.decode(errors='replace')}")
    return wall, usage.ru_utime + usage.ru_stime
