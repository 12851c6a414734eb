"""A kernel killed with SIGKILL mid-run: completed cells' values survive, the run ends KILLED."""

from __future__ import annotations

import os
import signal

import pytest
from jupyter_client.manager import start_new_kernel

pytestmark = pytest.mark.kernel


def run_cell(kc, code: str, timeout: float = 60) -> dict:
    reply = kc.execute_interactive(code, timeout=timeout, store_history=True)
    assert reply["content"]["status"] == "ok", reply["content"]
    return reply


@pytest.mark.slow  # kills a kernel mid-run, 7.5 s measured (load 9)
def test_sigkilled_kernel_keeps_completed_cells_and_run_becomes_killed(kernel_store):
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(kernel_store))
    try:
        run_cell(kc, "%load_ext jupyter_mlops\n%mlops start --name doomed")
        run_cell(kc, "import jupyter_mlops as mlops\n"
                     "for i in range(5000):\n    mlops.log_metric('loss', 1.0 / (i + 1))")
        run_cell(kc, "%mlops param lr=0.1\n%mlops metric acc=0.5")
        # A cell that is still running (in a metric burst) when the kernel dies.
        kc.execute("for i in range(10**9):\n    mlops.log_metric('burst', i)")
        pid = km.provisioner.process.pid
    finally:
        os.kill(pid, signal.SIGKILL)
        km.provisioner.process.wait()
        kc.stop_channels()
        km.cleanup_resources()

    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores

    forget_open_stores()
    client = Client()  # opening the store reaps runs whose writer is gone
    [run] = client.search_runs()
    assert run.name == "doomed" and run.status == "KILLED"
    assert run.params == {"lr": "0.1"}
    assert run.metrics["acc"] == 0.5
    assert len(client.metric_history(run.id, "loss")) == 5000
    forget_open_stores()
