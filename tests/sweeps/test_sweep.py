"""sweep() on a real store (SQLite and PostgreSQL): trials as child runs, failures, resume."""

from __future__ import annotations

import logging
import math

import optuna
import pytest

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.sweeps import sweep

SPACE = "x=uniform(-5,5) k=choice(a,b)"


def _children(client, parent):
    return [r for r in client.search_runs(max_results=1000, warn=False)
            if r.parent_run_id == parent]


def test_each_trial_is_a_child_run_with_params_value_state_and_history(client):
    def objective(trial):
        for step in range(3):
            trial.report(trial["x"] * step, step)
        return (trial["x"] - 1) ** 2

    result = sweep(objective, SPACE, n_trials=4, name="basic", client=client,
                   sampler="random", seed=1)
    parent = client.get_run(result.parent_run_id)
    assert parent.status == "FINISHED"
    assert parent.run.tags["mlops.sweep.role"] == "parent"
    assert parent.run.params["space.x"] == "uniform(-5.0,5.0)"
    assert parent.run.params["direction"] == "minimize"
    assert parent.run.params["sampler"] == "RandomSampler"
    children = _children(client, result.parent_run_id)
    assert len(children) == 4
    by_trial = {int(r.tags["mlops.sweep.trial"]): r for r in children}
    for t in result.trials:
        run = by_trial[t.number]
        assert run.status == "FINISHED" and run.tags["mlops.sweep.state"] == "COMPLETE"
        assert float(run.params["x"]) == pytest.approx(t.params["x"])
        assert run.params["k"] == t.params["k"]
        assert run.metrics["objective"] == pytest.approx(t.value)
        history = client.metric_history(run.id, "intermediate")
        assert [(p.step, p.value) for p in history] == [
            (s, pytest.approx(t.params["x"] * s)) for s in range(3)]
    assert result.best_value == min(t.value for t in result.trials)
    assert by_trial[result.best_trial.number].id == result.best_run_id
    # The parent's objective history is the optimisation history, step = trial number.
    assert [p.step for p in client.metric_history(result.parent_run_id, "objective")] == [
        0, 1, 2, 3]


def test_raise_and_nan_make_failed_trials_and_the_sweep_goes_on(client, caplog):
    def objective(trial):
        if trial.number == 1:
            raise ValueError("boom\nsecond line")
        if trial.number == 2:
            return math.nan
        if trial.number == 3:
            return "not a number"
        return trial["x"]

    with caplog.at_level(logging.WARNING):
        result = sweep(objective, SPACE, n_trials=5, name="faulty", client=client,
                       sampler="random", seed=0)
    states = {t.number: t.state.name for t in result.trials}
    assert states == {0: "COMPLETE", 1: "FAIL", 2: "FAIL", 3: "FAIL", 4: "COMPLETE"}
    df = result.trials_dataframe().set_index("number")
    assert df.loc[1, "reason"] == "ValueError: boom second line"
    assert df.loc[2, "reason"] == "the objective returned nan, not a finite number"
    assert df.loc[3, "reason"] == "the objective returned 'not a number', not a finite number"
    runs = {int(r.tags["mlops.sweep.trial"]): r for r in _children(client, result.parent_run_id)}
    assert runs[1].status == "FAILED" and runs[1].tags["mlops.sweep.state"] == "FAIL"
    assert runs[0].status == "FINISHED"
    ours = [r.getMessage() for r in caplog.records if r.name == "jupyter_mlops.sweeps"]
    assert len(ours) == 3 and all("\n" not in m and "the sweep goes on" in m for m in ours)
    # Optuna's own "Trial N failed" line is replaced by ours, not doubled.
    assert not [r for r in caplog.records
                if r.name.startswith("optuna") and "failed" in r.getMessage()]


def test_pruned_trials_are_recorded_as_pruned(client):
    def objective(trial):
        for step in range(5):
            trial.report(float(trial.number), step)  # later trials are worse
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(trial.number)

    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    result = sweep(objective, "x=uniform(0,1)", n_trials=5, name="pruned", client=client,
                   pruner=pruner, sampler="random", seed=0)
    pruned = [t.number for t in result.trials if t.state.name == "PRUNED"]
    assert pruned  # trials 2.. report worse than the median of 0 and 1
    runs = {int(r.tags["mlops.sweep.trial"]): r for r in _children(client, result.parent_run_id)}
    for n in pruned:
        assert runs[n].tags["mlops.sweep.state"] == "PRUNED"
        assert runs[n].status == "FINISHED"
        assert "objective" not in runs[n].metrics


def test_the_same_name_continues_the_study_and_the_parent_run(client):
    first = sweep(lambda t: t["x"], "x=uniform(0,1)", n_trials=2, name="again",
                  client=client, sampler="random", seed=0)
    second = sweep(lambda t: t["x"], "x=uniform(0,1)", n_trials=5, name="again",
                   client=client, sampler="random", seed=0)
    assert second.parent_run_id == first.parent_run_id
    assert len(second.trials) == 5
    assert len(_children(client, first.parent_run_id)) == 5
    # Asking for what is already done runs nothing.
    third = sweep(lambda t: t["x"], "x=uniform(0,1)", n_trials=5, name="again", client=client)
    assert len(third.trials) == 5


def test_resuming_with_the_other_direction_is_refused(client):
    sweep(lambda t: t["x"], "x=uniform(0,1)", n_trials=1, name="dir", client=client)
    with pytest.raises(InvalidInputError, match="direction='minimize'"):
        sweep(lambda t: t["x"], "x=uniform(0,1)", n_trials=2, name="dir", client=client,
              direction="maximize")


def test_threads_share_the_sweep(client):
    result = sweep(lambda t: -t["x"], "x=uniform(0,1)", n_trials=6, name="threads",
                   client=client, n_jobs=2, direction="maximize")
    assert len(result.trials) == 6
    assert len(_children(client, result.parent_run_id)) == 6
    assert result.best_value == max(-t.params["x"] for t in result.trials)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n_trials": 0}, "n_trials"),
    ({"n_trials": None}, "n_trials or timeout"),
    ({"direction": "up"}, "direction"),
    ({"name": "a b'; drop"}, "Sweep name"),
    ({"timeout": -1}, "timeout"),
    ({"n_jobs": 0}, "n_jobs"),
    ({"sampler": "nope"}, "Unknown sampler"),
    ({"pruner": 3}, "pruner must be"),
    ({"space": "x=uniform(0"}, "Cannot read the sweep space"),
    ({"study_storage": "disk"}, "study_storage"),
])
def test_bad_arguments_are_one_line_and_record_nothing(client, kwargs, match):
    args = {"n_trials": 2, "space": "x=uniform(0,1)", "name": "bad", **kwargs}
    with pytest.raises(InvalidInputError, match=match) as info:
        sweep(lambda t: 0.0, client=client, **args)
    assert "\n" not in str(info.value)
    assert client.count_runs() == 0


@pytest.mark.slow  # matplotlib, and fANOVA importance: several seconds on a loaded machine
def test_results_table_figures_and_importance(client):
    import matplotlib

    matplotlib.use("Agg")
    result = sweep(lambda t: t["x"] ** 2 + (t["k"] == "a"), SPACE, n_trials=6,
                   name="figs", client=client, sampler="random", seed=3)
    df = result.trials_dataframe()
    assert list(df["number"]) == list(range(6))
    assert set(df.columns) >= {"state", "value", "params_x", "params_k", "run_id"}
    assert df["run_id"].notna().all()
    for fig in (result.plot_history(), result.plot_parallel_coordinates(),
                result.plot_importance()):
        assert isinstance(fig, matplotlib.figure.Figure) and fig.axes
    assert set(result.importance()) == {"x", "k"}
    assert "Sweep figs" in result._repr_html_()


def test_no_completed_trial_says_so(client):
    def objective(trial):
        raise RuntimeError("never")

    result = sweep(objective, "x=uniform(0,1)", n_trials=2, name="none", client=client)
    with pytest.raises(NotFoundError, match="no completed trial"):
        result.best_value
    with pytest.raises(NotFoundError, match="needs at least 1 completed"):
        result.plot_history()


def test_an_in_memory_study_is_tracked_but_not_resumable(client):
    first = sweep(lambda t: t["x"], "x=uniform(0,1)", n_trials=2, name="mem", client=client,
                  study_storage="memory")
    second = sweep(lambda t: t["x"], "x=uniform(0,1)", n_trials=2, name="mem", client=client,
                   study_storage="memory")
    assert len(first.trials) == len(second.trials) == 2
    assert first.parent_run_id != second.parent_run_id
    assert len(_children(client, first.parent_run_id)) == 2
