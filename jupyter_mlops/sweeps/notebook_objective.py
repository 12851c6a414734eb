"""A parameterised notebook as a sweep's objective: each trial is a one-step pipeline run.

The trial's params are the step's parameters, so the notebook runs exactly as a pipeline
step does (:func:`jupyter_mlops.pipelines.runner.run_pipeline`: papermill in a kernel of its
own, the executed notebook stored, the step's tracked run, and the step cache — a trial
whose params, notebook and inputs match an earlier success is restored, not re-run). The
trial's value is the last value of ``metric`` that the step's run logged. Nothing here runs
a notebook itself.

One executor serves every trial of the sweep (its process pool and warm kernels are reused),
and with ``executor="tcp://host:8786"`` the notebooks run on a Dask cluster, as pipeline
steps do.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import InvalidInputError, StepExecutionError

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import ReproduceClient

STEP = "trial"
TAG_STEP_RUN = "mlops.sweep.step_run"
TAG_PIPELINE_RUN = "mlops.sweep.pipeline_run"


class NotebookObjective:
    """Callable objective running ``notebook`` once per trial (see the module docstring)."""

    def __init__(self, client: ReproduceClient, notebook: str | Path, metric: str, sweep: str,
                 space: Mapping[str, Any], executor: Any = None):
        from jupyter_mlops.pipelines.spec import Pipeline, Step

        path = Path(notebook).expanduser()
        if path.suffix != ".ipynb" or not path.is_file():
            raise InvalidInputError(f"Notebook objective {str(notebook)[:200]!r} is not an "
                                    ".ipynb file that exists; give the notebook's path.")
        self.path = path.resolve()
        self.client = client
        self.metric = metric
        self.pipeline = f"sweep-{sweep}"
        self._executor_arg = executor
        self._executor = None
        self._Pipeline, self._Step = Pipeline, Step
        # Refuse at once a space the notebook cannot take (an undeclared name, a float for
        # an int parameter…): every trial would fail the same way.
        self._spec(_sample_point(space)).validate()

    def _spec(self, params: Mapping[str, Any]):
        step = self._Step(name=STEP, notebook=self.path.name, parameters=dict(params))
        return self._Pipeline(name=self.pipeline, steps=[step], base_dir=self.path.parent)

    def __call__(self, trial: Any) -> float:
        from jupyter_mlops.pipelines.executors import make_executor
        from jupyter_mlops.pipelines.runner import run_pipeline

        if self._executor is None:
            self._executor = make_executor(self._executor_arg, 1)
        record = run_pipeline(self._spec(trial.params), client=self.client, progress=False,
                              executor=self._executor)
        step = record.steps[0]
        if step.run_id:
            self.client.set_tags(trial.run_id, {TAG_STEP_RUN: step.run_id,
                                                TAG_PIPELINE_RUN: record.id})
        if step.status not in ("SUCCEEDED", "CACHED"):
            raise StepExecutionError(f"the notebook failed: {step.error or step.status}",
                                     step=STEP)
        history = self.client.metric_history(step.run_id, self.metric)
        if not history:
            raise InvalidInputError(f"the notebook logged no metric {self.metric!r} (log it "
                                    f"with mlops.log_metric({self.metric!r}, value))")
        return history[-1].value

    def close(self) -> None:
        from jupyter_mlops.pipelines.executors import Executor

        if self._executor is not None and not isinstance(self._executor_arg, Executor):
            self._executor.shutdown()  # ours; an Executor the caller passed stays theirs
        self._executor = None


def _sample_point(space: Mapping[str, Any]) -> dict[str, Any]:
    """One value of each distribution (its low end or first choice), to check types."""
    import optuna.distributions as d

    out = {}
    for name, dist in space.items():
        out[name] = dist.choices[0] if isinstance(dist, d.CategoricalDistribution) \
            else dist.low
    return out
