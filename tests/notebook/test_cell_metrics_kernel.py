"""Per-cell system metrics in a real kernel: each cell of a tracked run logs its usage at
step = its execution count, the 1 Hz sampler logs while the run is active, and
``%mlops system-metrics off`` stops both."""

from __future__ import annotations

import pytest

from tests.notebook.conftest import text_of

CELL_KEYS = ("system/cell_wall_seconds", "system/cell_cpu_seconds",
             "system/cell_peak_rss_bytes")


@pytest.mark.slow  # starts a kernel and idles past a few samples
def test_usage_is_attributed_to_each_cell_until_switched_off(run_magics, read_client):
    nb = run_magics(
        "%mlops system-metrics on",
        "import time\nimport jupyter_mlops as mlops\nrun = mlops.start_run(name='cells')",
        "big = b'x' * 300_000_000\ndel big",          # touches 300 MB: the peak must show it
        "time.sleep(2.5)",                             # idle long enough for 1 Hz samples
        "%mlops system-metrics off",
        "time.sleep(1.5)",
        "%mlops system-metrics on",
        "x = 1",
        "mlops.end_run()")
    for cell in nb.cells:
        assert not any(o["output_type"] == "error" for o in cell.get("outputs", [])), \
            text_of(cell)
    assert "system metrics off" in text_of(nb.cells[5])
    count = {i: cell.execution_count for i, cell in enumerate(nb.cells)}
    (run,) = read_client.search_runs()
    histories = {key: {p.step: p.value for p in read_client.metric_history(run.id, key)}
                 for key in CELL_KEYS}
    # The cell that started the run counts (it is its run's by the cell's end); from `off`
    # up to and including `on` nothing is recorded; the cell after `on` is.
    for key in CELL_KEYS:
        assert set(histories[key]) == {count[2], count[3], count[4], count[8]}, \
            (key, histories[key])
    peak = histories["system/cell_peak_rss_bytes"]
    assert peak[count[3]] - peak[count[4]] >= 250_000_000  # the 300 MB belong to cell 3 only
    samples = read_client.metric_history(run.id, "system/cpu_percent")
    assert len(samples) >= 1
    assert read_client.metric_history(run.id, "system/rss_bytes")


def test_switch_refuses_anything_but_on_or_off(run_magics):
    nb = run_magics("%mlops system-metrics maybe")
    out = text_of(nb.cells[1]).strip()
    assert out.startswith("UsageError") and "maybe" in out and "\n" not in out, out
