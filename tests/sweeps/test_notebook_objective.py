"""A parameterised notebook as the objective: each trial a pipeline step run, cached as one."""

from __future__ import annotations

import optuna
import pytest

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.sweeps import sweep
from tests.pipelines.conftest import write_notebook

PARAMS = "x = 0.0\nk = 'a'"
BODY = ("import jupyter_mlops as mlops\n"
        "if k == 'b':\n"
        "    raise RuntimeError('k=b breaks')\n"
        "mlops.log_metric('loss', (x - 0.4) ** 2)")


@pytest.mark.slow
def test_each_trial_runs_the_notebook_and_reads_its_metric(client, tmp_path):
    nb = write_notebook(tmp_path / "train.ipynb", BODY, params=PARAMS)
    grid = optuna.samplers.GridSampler({"x": [0.0, 0.5], "k": ["a", "b"]}, seed=0)
    result = sweep(notebook=str(nb), metric="loss", space="x=choice(0.0,0.5) k=choice(a,b)",
                   n_trials=4, name="nb", client=client, sampler=grid)
    df = result.trials_dataframe()
    assert sorted(zip(df["params_x"], df["params_k"])) == [
        (0.0, "a"), (0.0, "b"), (0.5, "a"), (0.5, "b")]
    for _, row in df.iterrows():
        if row["params_k"] == "b":
            assert row["state"] == "FAIL" and "k=b breaks" in row["reason"]
        else:
            assert row["state"] == "COMPLETE"
            assert row["value"] == pytest.approx((row["params_x"] - 0.4) ** 2)
    step_run = client.get_run(result.best_run_id).run.tags["mlops.sweep.step_run"]
    assert client.get_run(step_run).run.params["x"] == "0.5"
    assert client.get_run(step_run).run.tags.get("mlops.cache") != "hit"

    # Another sweep over a params set already run: the step comes from the cache.
    again = sweep(notebook=str(nb), metric="loss", space="x=choice(0.5) k=choice(a)",
                  n_trials=1, name="nb-again", client=client)
    assert again.best_value == pytest.approx(0.01)
    cached = client.get_run(again.best_run_id).run.tags["mlops.sweep.step_run"]
    assert client.get_run(cached).run.tags.get("mlops.cache") == "hit"


def test_a_space_the_notebook_cannot_take_is_refused_before_any_trial(client, tmp_path):
    nb = write_notebook(tmp_path / "train.ipynb", BODY, params=PARAMS)
    with pytest.raises(InvalidInputError, match="does not define 'depth'"):
        sweep(notebook=str(nb), metric="loss", space="depth=int(1,3)", n_trials=2,
              name="nb-bad", client=client)
    assert client.count_runs() == 0


def test_a_missing_notebook_or_metric_is_one_line(client, tmp_path):
    with pytest.raises(InvalidInputError, match="not an .ipynb file"):
        sweep(notebook=str(tmp_path / "nope.ipynb"), metric="loss", space="x=uniform(0,1)",
              n_trials=1, client=client)
    nb = write_notebook(tmp_path / "train.ipynb", BODY, params=PARAMS)
    with pytest.raises(InvalidInputError, match="metric=NAME"):
        sweep(notebook=str(nb), space="x=uniform(0,1)", n_trials=1, client=client)
