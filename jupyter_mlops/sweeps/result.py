"""What a sweep returns: the best trial and its run, every trial as a table, and the plots.

Figures are Optuna's matplotlib ones (``optuna.visualization.matplotlib``) with parameter
importance from ``optuna.importance``; plotly is not needed. Matplotlib and pandas are
imported by the methods that use them. The ipywidgets view is a front door's business:
``jupyter_mlops.notebook.sweep_widgets.sweep_widget(result)``, which ``%%mlops sweep`` shows.
"""

from __future__ import annotations

import html
import warnings
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import NotFoundError
from jupyter_mlops.sweeps.trial import TAG_REASON, TAG_ROLE, TAG_SWEEP, TAG_TRIAL

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import SweepReader


class SweepResult:
    """A sweep's study, read live from its storage (so it also shows other processes' trials).

    Attributes
    ----------
    name : str
        The sweep's name (give it to ``sweep(name=...)`` to continue it).
    parent_run_id : str
        The parent run; each trial is a child run of it.
    study : optuna.Study
        Optuna's study, for anything not wrapped here.
    """

    def __init__(self, *, client: SweepReader, study: Any, name: str, parent_run_id: str,
                 metric: str, n_trials: int | None):
        self.client = client
        self.study = study
        self.name = name
        self.parent_run_id = parent_run_id
        self.metric = metric
        self.n_trials = n_trials

    # ------------------------------------------------------------------ best
    @property
    def best_trial(self) -> Any:
        """The best COMPLETE trial (an Optuna ``FrozenTrial``).

        Raises
        ------
        NotFoundError
            No trial has completed (all failed or were pruned).
        """
        try:
            return self.study.best_trial
        except ValueError:
            raise NotFoundError(
                f"Sweep {self.name!r} has no completed trial yet (see "
                "result.trials_dataframe() for the failed and pruned ones).") from None

    @property
    def best_params(self) -> dict[str, Any]:
        return dict(self.best_trial.params)

    @property
    def best_value(self) -> float:
        return float(self.best_trial.value)

    @property
    def best_run_id(self) -> str:
        """The child run of the best trial."""
        number = self.best_trial.number
        found = self.run_ids().get(number)
        if found is None:
            raise NotFoundError(f"Trial {number} of sweep {self.name!r} has no run in "
                                f"{self.client.location.describe()}.")
        return found

    @property
    def trials(self) -> list[Any]:
        return self.study.get_trials(deepcopy=False)

    def run_ids(self) -> dict[int, str]:
        """Trial number → child run id (the latest run of a trial number)."""
        return {int(r.tags[TAG_TRIAL]): r.id for r in reversed(self._trial_runs())
                if str(r.tags.get(TAG_TRIAL, "")).isdigit()}

    def _trial_runs(self) -> list[Any]:
        self.client.flush()
        return list(self.client.search_runs(
            f"tags.`{TAG_SWEEP}` = '{self.name}' and tags.`{TAG_ROLE}` = 'trial'",
            max_results=50_000, warn=False))

    # ------------------------------------------------------------------ tables
    def trials_dataframe(self):
        """One row per trial: number, state, value, params, duration, run id, fail reason."""
        import pandas as pd

        runs = {int(r.tags[TAG_TRIAL]): r for r in reversed(self._trial_runs())
                if str(r.tags.get(TAG_TRIAL, "")).isdigit()}
        rows = []
        for t in self.trials:
            run = runs.get(t.number)
            duration = ((t.datetime_complete - t.datetime_start).total_seconds()
                        if t.datetime_complete and t.datetime_start else None)
            rows.append({"number": t.number, "state": t.state.name, "value": t.value,
                         **{f"params_{k}": v for k, v in t.params.items()},
                         "duration_s": duration, "run_id": run.id if run else None,
                         "reason": run.tags.get(TAG_REASON) if run else None})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ figures
    def plot_history(self):
        """Optimisation history (each trial's value and the best so far): a Figure."""
        from optuna.visualization.matplotlib import plot_optimization_history

        return self._figure(plot_optimization_history, "optimisation history")

    def plot_parallel_coordinates(self):
        """Each completed trial's params and value as a line: a Figure."""
        from optuna.visualization.matplotlib import plot_parallel_coordinate

        return self._figure(plot_parallel_coordinate, "parallel coordinates")

    def plot_importance(self):
        """Parameter importance (``optuna.importance``, fANOVA by default): a Figure."""
        from optuna.visualization.matplotlib import plot_param_importances

        return self._figure(plot_param_importances, "parameter importance", need=2)

    def importance(self) -> dict[str, float]:
        """Parameter → importance (``optuna.importance.get_param_importances``)."""
        import optuna

        self._need(2, "parameter importance")
        return dict(optuna.importance.get_param_importances(self.study))

    def _need(self, n: int, what: str) -> None:
        from optuna.trial import TrialState

        done = len(self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        if done < n:
            raise NotFoundError(f"The {what} of sweep {self.name!r} needs at least {n} "
                                f"completed trial(s); it has {done}.")

    def _figure(self, plot, what: str, need: int = 1):
        import matplotlib

        self._need(need, what)
        with warnings.catch_warnings():  # Optuna marks its matplotlib plots experimental
            warnings.simplefilter("ignore")
            with matplotlib.rc_context():
                ax = plot(self.study)
        ax = ax.flat[0] if hasattr(ax, "flat") else ax
        return ax.figure

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        return (f"SweepResult(name={self.name!r}, trials={len(self.trials)}, "
                f"parent_run_id={self.parent_run_id!r})")

    def _repr_html_(self) -> str:
        from optuna.trial import TrialState

        trials = self.trials
        states = {s.name: sum(t.state == s for t in trials) for s in
                  (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
        try:
            best = f"best {html.escape(self.metric)} = {self.best_value:.6g} with " + \
                html.escape(", ".join(f"{k}={v!r}" for k, v in self.best_params.items()))
        except NotFoundError:
            best = "no completed trial yet"
        counts = ", ".join(f"{n} {s}" for s, n in states.items())
        return (f"<div><b>Sweep {html.escape(self.name)}</b>: {len(trials)} trials "
                f"({html.escape(counts)}); {best}; parent run "
                f"<code>{html.escape(self.parent_run_id[:12])}</code></div>")
