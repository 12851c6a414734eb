"""Compare the versions of a model: a metrics table and a matplotlib figure."""

from __future__ import annotations

from typing import Any, NamedTuple

from jupyter_mlops.errors import InvalidInputError, NotFoundError

MAX_METRIC_PANELS = 12


class ModelComparison(NamedTuple):
    """``table`` (one row per version) and ``figure`` (one bar panel per metric)."""

    table: Any  # pandas.DataFrame
    figure: Any  # matplotlib.figure.Figure


def compare_models(registry: Any, name: str, versions: list[int] | None = None,
                   metrics: list[str] | None = None) -> ModelComparison:
    """Tabulate and plot the metrics recorded on versions of ``name``.

    Parameters
    ----------
    registry : RegistryClient
    name : str
    versions : list of int, optional
        Which versions (default: all).
    metrics : list of str, optional
        Which metrics (default: every metric any chosen version has).

    Returns
    -------
    ModelComparison
        ``table`` indexed by version, with ``aliases``, ``created_by``, ``run_id`` and one
        column per metric; ``figure`` with one bar chart per metric.

    Raises
    ------
    NotFoundError
        Unknown model, or a requested version does not exist.
    """
    import pandas as pd

    all_versions = {v.version: v for v in registry.list_versions(name)}
    if versions is not None:
        if isinstance(versions, (str, bytes)) or not all(
                isinstance(n, int) and not isinstance(n, bool) for n in versions):
            raise InvalidInputError("versions is a list of version numbers, e.g. [1, 3].")
        missing = [n for n in versions if n not in all_versions]
        if missing:
            raise NotFoundError(f"Model {name!r} has no version(s) {missing}; it has "
                                f"{sorted(all_versions) or 'none'}.")
        chosen = [all_versions[n] for n in versions]
    else:
        chosen = [all_versions[n] for n in sorted(all_versions)]
    keys = list(metrics) if metrics is not None else sorted(
        {k for v in chosen for k in v.metrics})
    rows = [{"version": v.version, "aliases": ", ".join(v.aliases), "created_by": v.created_by,
             "run_id": v.run_id, **{k: v.metrics.get(k) for k in keys}} for v in chosen]
    table = pd.DataFrame(rows, columns=["version", "aliases", "created_by", "run_id", *keys])
    table = table.set_index("version")
    return ModelComparison(table, _figure(name, chosen, keys))


def _figure(name: str, chosen: list, keys: list[str]):
    # Figure, not pyplot: no global state and no GUI backend, safe in servers and threads.
    from matplotlib.figure import Figure

    shown = keys[:MAX_METRIC_PANELS]
    cols = min(3, max(1, len(shown)))
    rows = max(1, -(-len(shown) // cols))
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows), layout="constrained")
    labels = [f"v{v.version}" + (f"\n{', '.join(v.aliases)}" if v.aliases else "")
              for v in chosen]
    if not shown:
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.5, f"No metrics recorded on the versions of {name}", ha="center",
                va="center")
        return fig
    for i, key in enumerate(shown):
        ax = fig.add_subplot(rows, cols, i + 1)
        values = [v.metrics.get(key) for v in chosen]
        heights = [float("nan") if x is None else x for x in values]
        colors = ["tab:orange" if "champion" in v.aliases else "tab:blue" for v in chosen]
        bars = ax.bar(range(len(chosen)), heights, color=colors)
        ax.bar_label(bars, labels=["-" if x is None else f"{x:.4g}" for x in values],
                     fontsize=8)
        ax.set_xticks(range(len(chosen)), labels, fontsize=8)
        ax.set_title(key)
    fig.suptitle(f"{name}: metrics per version")
    return fig
