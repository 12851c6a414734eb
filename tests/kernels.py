"""Test kernels that talk over Unix sockets (ZeroMQ ``ipc``), each in a folder of its own.

With the default ``tcp`` transport jupyter_client picks five free ports and writes them to
the connection file, and the kernel binds them a moment later: another test process (pytest
-n) can take one in between, and the kernel dies before it answers ``kernel_info``
("Kernel died before replying to kernel_info"). Socket files in a private folder cannot be
taken by anyone else. The folder lives under the system temp directory, not ``tmp_path``: a
Unix socket's path must stay under ~107 bytes.

What these kernels run is unchanged: only how the test process reaches them differs.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="mlops-k-"))


def ipc_manager(kernel_name: str = "python3", *, asynchronous: bool = True):
    """An (Async)KernelManager on the ipc transport; its folder is ``km.ipc_folder``."""
    if asynchronous:
        from jupyter_client.manager import AsyncKernelManager as Manager
    else:
        from jupyter_client.manager import KernelManager as Manager
    folder = _folder()
    km = Manager(kernel_name=kernel_name, transport="ipc",
                 connection_file=str(folder / "kernel.json"))
    km.ipc_folder = folder
    return km


def discard(km, now: bool = False) -> None:
    """Stop the kernel if it still runs, close its sockets and remove its folder.

    Gracefully by default (a shutdown request, then a kill after jupyter_client's wait), as
    nbclient and papermill stop the kernels they start: its atexit code (closing the run)
    runs.
    """
    from jupyter_core.utils import run_sync

    try:
        if km.has_kernel:
            with contextlib.suppress(Exception):
                if _is_async(km):
                    run_sync(km.shutdown_kernel)(now=now)
                else:
                    km.shutdown_kernel(now=now)
        with contextlib.suppress(Exception):  # connection file and socket files
            if _is_async(km):
                run_sync(km.cleanup_resources)()
            else:
                km.cleanup_resources()
    finally:
        shutil.rmtree(km.ipc_folder, ignore_errors=True)


def _is_async(km) -> bool:
    from jupyter_client.manager import AsyncKernelManager

    return isinstance(km, AsyncKernelManager)


def start_kernel(kernel_name: str = "python3", timeout: float = 60, **kwargs):
    """``jupyter_client.manager.start_new_kernel`` on the ipc transport: ``(km, kc)``, ready.

    Stop it with ``kc.stop_channels()`` then :func:`discard`.
    """
    km = ipc_manager(kernel_name, asynchronous=False)
    try:
        km.start_kernel(**kwargs)
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=timeout)
        except RuntimeError:
            kc.stop_channels()
            raise
    except BaseException:
        discard(km)
        raise
    return km, kc


@contextlib.contextmanager
def ipc_kernel(kernel_name: str = "python3") -> Iterator:
    """An AsyncKernelManager to hand to nbclient/papermill (``km=``); stopped and removed
    afterwards (neither stops a kernel manager it was given)."""
    km = ipc_manager(kernel_name)
    try:
        yield km
    finally:
        discard(km)


def execute_notebook(*args, kernel_name: str = "python3", **kwargs):
    """``papermill.execute_notebook`` in a kernel on the ipc transport."""
    import papermill as pm

    with ipc_kernel(kernel_name) as km:
        return pm.execute_notebook(*args, kernel_name=kernel_name, km=km, **kwargs)
