"""``%mlops features [list | show VIEW]`` in a real kernel: what a reader of the output sees."""

from __future__ import annotations

import pandas as pd
import pytest

from .conftest import text_of

pytestmark = pytest.mark.kernel


def _html(cell) -> str:
    return "".join(o["data"]["text/html"] for o in cell.outputs
                   if "text/html" in o.get("data", {}))


@pytest.mark.slow  # a kernel start and five cells
def test_features_list_and_show_in_a_kernel(read_client, run_magics):
    t = pd.Timestamp("2024-01-01")
    frame = pd.DataFrame({
        "driver": [1, 1, 2, 3],
        "ts": [t, t + pd.Timedelta(hours=2), t, t + pd.Timedelta(hours=1)],
        "trips": [1, 3, 5, 7],
        "city": ["<b>paris</b>", "lyon", "lyon", "nice"],  # user text: shown as text
    })
    read_client.features.register_view("driver_stats", frame, entity="driver",
                                       timestamp="ts", features=["trips", "city"])
    read_client.features.materialize("driver_stats")
    nb = run_magics("%mlops features",
                    "%mlops features show driver_stats",
                    "%mlops features show nope",
                    "%mlops features list driver_stats",
                    "%mlops features show driver_stats --version 0")
    listing = _html(nb.cells[1])
    assert "<td>driver_stats</td><td>1</td><td>driver</td><td>trips, city</td>" in listing
    # freshness: last event and the materialization watermark (02:00 for driver 1)
    assert listing.count("2024-01-01 02:00:00") == 2
    text = text_of(nb.cells[1])  # the text fallback has the same table
    assert text.splitlines()[0] == "Feature views" and "driver_stats" in text

    shown = _html(nb.cells[2])
    assert "driver_stats: versions" in shown and "driver_stats@1: statistics" in shown
    assert "&lt;b&gt;paris&lt;/b&gt; (1)" in shown and "<b>paris" not in shown
    assert "<td>trips</td><td>int64</td><td>numeric</td><td>4</td><td>0.0%</td><td>1</td>" \
        "<td>4</td><td>7</td>" in shown
    assert "█" in text_of(nb.cells[2])  # the histogram as bars in the text fallback too

    for cell, words in ((3, "There is no feature view 'nope' (views: 'driver_stats')"),
                        (4, "takes no VIEW"),
                        (5, "version must be a positive whole number")):
        out = text_of(nb.cells[cell])
        assert "UsageError" in out and words in out, out
        assert "Traceback" not in out
