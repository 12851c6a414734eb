"""Start the background launcher (``python -m jupyter_mlops.cli.launch …``), detached.

Used by the scheduler (a fired slot) and by monitoring alerts (a retraining pipeline): the
child outlives the caller (a server or a kernel), runs against the caller's store, and its
output goes to ``<project>/.mlops/logs/<log_name>`` when the store has a local folder. What
the child does is :mod:`jupyter_mlops.cli.launch`; it is named here, never imported (a
component does not import a front door).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import StoreHolder

#: The module ``python -m`` runs in the child.
LAUNCHER = "jupyter_mlops.cli.launch"


def start_launcher(client: StoreHolder, command: list[str], log_name: str,
                   cwd: str | Path) -> subprocess.Popen:
    """Start ``python -m jupyter_mlops.cli.launch command…`` in its own session.

    Parameters
    ----------
    client : Client
        Its store's URL and artifact root go to the child's environment.
    command : list of str
        The launcher's arguments, e.g. ``["schedule", "--schedule-id", "3", "--slot", "…"]``.
    log_name : str
        File name of the child's output under the store's ``logs/`` folder.
    cwd : str or Path
        Folder the child runs in.
    """
    store = client.store
    env = dict(os.environ, MLOPS_TRACKING_URI=store.url, MLOPS_ARTIFACT_ROOT=store.artifact_root)
    out = subprocess.DEVNULL
    if store.local_dir is not None:
        logs = Path(store.local_dir) / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        out = open(logs / log_name, "ab")  # noqa: SIM115 - handed to the child, closed below
    try:
        return subprocess.Popen([sys.executable, "-m", LAUNCHER, *command], env=env,
                                cwd=str(cwd), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        if out is not subprocess.DEVNULL:
            out.close()
