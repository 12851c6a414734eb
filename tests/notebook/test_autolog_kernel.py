"""``%mlops autolog`` in a real kernel: fits and displayed figures land in the run; --disable
stops both."""

from __future__ import annotations

import pytest

from tests.notebook.conftest import text_of

FIT = ("from sklearn.datasets import load_iris\n"
       "from sklearn.tree import DecisionTreeClassifier\n"
       "X, y = load_iris(return_X_y=True)\n"
       "DecisionTreeClassifier(max_depth={depth}).fit(X, y)")
FIGURES = ("import matplotlib\n"
           "matplotlib.use('module://matplotlib_inline.backend_inline')\n"
           "import matplotlib.pyplot as plt\n"
           "plt.plot([1, 3, 2]); plt.show()\n"      # shown by plt.show()
           "fig, ax = plt.subplots(); ax.bar([1, 2], [{h}, 1])\n"
           "display(fig); plt.close(fig)")          # shown by display()


@pytest.mark.slow
def test_magic_records_fits_and_every_figure_shown_until_disabled(run_magics, read_client):
    nb = run_magics(
        "%mlops autolog",
        "%mlops start --name tracked",
        FIT.format(depth=2),
        FIGURES.format(h=2),
        "%mlops autolog --disable",
        FIT.format(depth=3),
        FIGURES.format(h=3),
        "%mlops end")
    assert "autolog on" in text_of(nb.cells[1]) and "autolog off" in text_of(nb.cells[5])
    for cell in nb.cells:
        assert not any(o["output_type"] == "error" for o in cell.get("outputs", [])), \
            text_of(cell)
    (run,) = read_client.search_runs()
    assert dict(run.params)["max_depth"] == "2"  # the fit after --disable logged nothing
    assert "training_accuracy_score" in dict(run.metrics)
    names = sorted(a.name for a in read_client.list_artifacts(run.id))
    figures = [n for n in names if n.startswith("figures/")]
    count = nb.cells[4].execution_count
    assert figures == [f"figures/cell-{count}-1.png", f"figures/cell-{count}-2.png"], names
    assert {"model/model.skops", "model/model.json"} <= set(names)
    _, png = read_client.read_artifact(run.id, figures[0])
    assert png.startswith(b"\x89PNG")
    # The figures were still displayed as usual.
    shown = [o for o in nb.cells[4]["outputs"] if "image/png" in o.get("data", {})]
    assert len(shown) == 2


@pytest.mark.slow  # starts a kernel
def test_magic_rejects_unknown_options_in_one_line(run_magics):
    nb = run_magics("%mlops autolog --nope")
    out = text_of(nb.cells[1]).strip()
    assert out.startswith("UsageError") and "--nope" in out and "\n" not in out, out
