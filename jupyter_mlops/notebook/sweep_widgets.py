"""The sweep view: trials table, optimisation history, parallel coordinates, importance.

``sweep_widget(result)`` composes stock ipywidgets (a ``Tab`` of ``Output`` areas) over a
:class:`jupyter_mlops.sweeps.SweepResult`; ``%%mlops sweep`` shows it when the sweep ends.
Figures are PNGs (as the other views here: no dependence on the kernel's matplotlib
backend), the table is pandas' HTML, which escapes every value. A figure that cannot be
drawn yet (importance needs two completed trials) shows the one-line reason instead.
"""

from __future__ import annotations

import html
from typing import Any

from jupyter_mlops.errors import MlopsError
from jupyter_mlops.notebook.widgets import figure_image

#: Tab title → SweepResult method drawing it.
FIGURES = (("History", "plot_history"),
           ("Parallel coordinates", "plot_parallel_coordinates"),
           ("Importance", "plot_importance"))


def trials_html(result: Any) -> str:
    """The trials table as escaped HTML (state, value, params, run id, reason)."""
    df = result.trials_dataframe()
    if "run_id" in df:
        df["run_id"] = df["run_id"].map(lambda v: v[:12] if isinstance(v, str) else v)
    return df.to_html(index=False, escape=True, na_rep="", float_format=lambda v: f"{v:.6g}")


def sweep_widget(result: Any):
    """A ``Tab``: the trials table, then one figure per tab (see :data:`FIGURES`)."""
    import ipywidgets as w
    from IPython.display import HTML, display

    header = w.HTML(result._repr_html_())
    table = w.Output()
    with table:
        display(HTML(trials_html(result)))
    children, titles = [table], ["Trials"]
    for title, method in FIGURES:
        out = w.Output()
        with out:
            display(_figure_or_reason(result, method))
        children.append(out)
        titles.append(title)
    tabs = w.Tab(children=children)
    for i, title in enumerate(titles):
        tabs.set_title(i, title)
    return w.VBox([header, tabs])


def _figure_or_reason(result: Any, method: str):
    from IPython.display import HTML

    try:
        fig = getattr(result, method)()
    except MlopsError as exc:
        return HTML(f"<i>{html.escape(str(exc))}</i>")
    try:
        return figure_image(fig)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)  # Optuna draws through pyplot: do not leave figures open


def sweep_widget_for_run(client: Any, run_id: str):
    """The sweep view of the sweep whose parent (or trial) run is ``run_id`` — the same
    sweep the panel shows in that run's details (``client.sweep_result``)."""
    return sweep_widget(client.sweep_result(run_id))
