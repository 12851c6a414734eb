"""Start an isolated JupyterLab serving this checkout's extension (UI tests and the panel bench).

Own data, config, settings and workspace folders under ``folder``, so nothing of the
developer's Jupyter set-up leaks in and nothing leaks out; the server extension enabled; the
news toast off; the build that belongs to the imported package served, installed or not.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(folder: Path, env: dict[str, str], *, extra_args: tuple[str, ...] = (),
              timeout: float = 120) -> tuple[subprocess.Popen, str, str, Path]:
    """Start ``jupyter lab`` in ``folder/root`` with ``env`` (plus Jupyter's own paths).

    Returns (process, base URL, token, root folder); the server's output goes to
    ``folder/lab.log``. Raises RuntimeError with the log's tail if it does not answer in time.
    """
    import jupyter_mlops

    built = Path(jupyter_mlops.__file__).parent / "labextension"
    if not (built / "package.json").exists():
        raise RuntimeError(f"The lab extension is not built ({built}): cd labextension && "
                           "jlpm build")
    data = folder / "data"
    (data / "labextensions").mkdir(parents=True)
    (data / "labextensions" / "jupyter-mlops").symlink_to(built)
    config = folder / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"jpserver_extensions": {"jupyter_mlops.server": True}}}))
    settings = folder / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps(
        {"fetchNews": "false", "checkForUpdates": False}))
    root = folder / "root"
    root.mkdir()
    token = secrets.token_hex(16)
    env = {
        **env,
        "JUPYTER_PATH": os.pathsep.join(filter(None, [str(data), env.get("JUPYTER_PATH")])),
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTERLAB_SETTINGS_DIR": str(folder / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(folder / "workspaces"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    }
    log = folder / "lab.log"
    # free_port() only proves the port was free a moment ago: another worker's server can
    # take it before lab binds it. Lab then exits (port_retries=0) while the other process
    # answers our probe (BadStatusLine, not an OSError). Start again on a new port then.
    for attempt in range(3):
        port = free_port()
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
                 f"--port={port}", f"--IdentityProvider.token={token}",
                 f"--ServerApp.root_dir={root}", "--allow-root", "--LabApp.news_url=None",
                 "--ServerApp.port_retries=0", *extra_args],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root)
        url = f"http://127.0.0.1:{port}"
        if _answers(proc, url, token, time.monotonic() + timeout):
            return proc, url, token, root
        port_taken = "already in use" in log.read_text(errors="replace")
        stop_lab(proc)
        if not port_taken or attempt == 2:
            raise RuntimeError("jupyter lab did not start:\n"
                               + log.read_text(errors="replace")[-4000:])
    raise AssertionError("unreachable")


def _answers(proc: subprocess.Popen, url: str, token: str, deadline: float) -> bool:
    """True once this lab answers its status route; False if it exits or time runs out."""
    import http.client

    while True:
        if proc.poll() is not None:
            return False
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).read()
            return True
        except (OSError, http.client.HTTPException):  # not up yet, or not ours on the port
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)


def stop_lab(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
