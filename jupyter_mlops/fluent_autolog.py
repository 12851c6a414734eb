"""``mlops.autolog()``: the fluent face of autologging (:mod:`jupyter_mlops.tracking.autolog`).

Tracking patches ``fit`` and decides what to record; this module hands it what a component may
not choose for itself: the run (the active one, else one started for the fit and ended after
it, as ``mlflow.sklearn.autolog`` does) and the registry's model writer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from jupyter_mlops import fluent
from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.lifecycle import run_ending
from jupyter_mlops.tracking import autolog as tracking_autolog
from jupyter_mlops.tracking import system_metrics as tracking_system_metrics



def autolog(log_models: bool = True, log_datasets: bool = True, disable: bool = False,
            silent: bool = False, *, log_figures: bool = True,
            system_metrics: bool | None = None) -> None:
    """Record every scikit-learn, LightGBM, XGBoost and PyTorch Lightning fit into a run, and
    save figures a tracked cell shows.

    Each outermost ``fit`` (a Pipeline's steps and a search's inner fits are part of it) logs
    its estimator's params (``get_params(deep=False)``), training metrics such as
    ``training_accuracy_score`` or ``training_r2_score``, for searches the best params,
    ``best_cv_score`` and ``cv_results.json``, the dataset hashes of ``X`` and ``y``, and the
    fitted model as ``model/model.skops`` with its signature in ``model/model.json``. It logs
    into the active run, or starts a run for that fit and ends it afterwards. A problem while
    logging is one printed line; ``fit`` itself is never affected.

    ``lightgbm.train``, ``xgboost.train`` and their scikit-learn wrappers also record each
    validation set's metrics per iteration (``<set>-<metric>``, step = iteration), the best
    iteration after early stopping, feature importance (``feature_importance_<type>.json``)
    and the model in the library's own format (``model/lightgbm.txt``,
    ``model/xgboost.json``); see docs/autolog.md.

    PyTorch Lightning's ``Trainer.fit`` (when ``lightning`` or ``pytorch_lightning`` is
    installed; patched when imported) records the module's hparams, the trainer's and
    optimizer's settings, every logged metric per epoch (step = epoch), early stopping's and
    checkpointing's results, and the weights as a ``state_dict`` (``model/model.safetensors``
    with ``safetensors`` installed, else ``model/state_dict.pt``, which
    ``torch.load(..., weights_only=True)`` reads), never the pickled module.

    Parameters
    ----------
    log_models : bool
        Save the fitted model (skops) and its signature. Default True.
    log_datasets : bool
        Version ``X`` and ``y`` by content and link them to the run. Default True.
    disable : bool
        Turn autologging off: every ``fit`` is put back as it was.
    silent : bool
        Do not print a line when something could not be recorded.
    log_figures : bool
        In a notebook, save every matplotlib figure a cell shows while a run is active.
    system_metrics : bool, optional
        Per-cell system metrics in a notebook (see :func:`system_metrics`); left out, the
        current choice stands (off until turned on).

    Raises
    ------
    InvalidInputError
        An option that is not True or False.
    """
    options = {"log_models": log_models, "log_datasets": log_datasets, "disable": disable,
               "silent": silent, "log_figures": log_figures}
    if system_metrics is not None:
        options["system_metrics"] = system_metrics
    for name, value in options.items():
        if not isinstance(value, bool):
            raise InvalidInputError(
                f"autolog({name}=...) takes True or False, not {value!r}.")
    if system_metrics is not None:
        set_system_metrics(system_metrics)
    if disable:
        tracking_autolog.disable()
        return
    settings = tracking_autolog.AutologSettings(
        log_models=log_models, log_datasets=log_datasets, log_figures=log_figures,
        silent=silent)
    tracking_autolog.enable(settings, _run_for_fit, _model_files)


def set_system_metrics(on: bool) -> None:
    """Turn per-cell system metrics on or off (off until turned on).

    In a notebook, each cell that runs while a run is active logs its wall time, CPU seconds,
    peak RSS and disk/network bytes as ``system/cell_*`` metrics with step = its execution
    count, and a 1 Hz sampler logs ``system/cpu_percent``, ``system/rss_bytes`` and the I/O
    counters (GPU too, when ``pynvml`` finds one).

    Raises
    ------
    InvalidInputError
        ``on`` is not True or False.
    """
    if not isinstance(on, bool):
        raise InvalidInputError(f"system metrics are on (True) or off (False), not {on!r}.")
    tracking_system_metrics.set_enabled(on)


def autolog_settings() -> tracking_autolog.AutologSettings | None:
    """What autologging records now, or None when it is off."""
    return tracking_autolog.current()


@contextlib.contextmanager
def _run_for_fit() -> Iterator[tuple[Any, str, Any]]:
    run = fluent.active_run()
    if run is not None:
        yield run.client, run.id, lambda: None
        return
    run = fluent.start_run()
    handed: list = []

    def take_end():
        # The autolog writer ends the run after the fit's files (see tracking.autolog.
        # deferred); the run stops being the active one now, as if ended.
        if not (run.owned and fluent.active_run() is run):
            return None
        handed.append(True)
        return lambda: run.client.end_run(run.id, "FINISHED")

    try:
        yield run.client, run.id, take_end
    except BaseException:
        # The fit itself raised (Lightning's Trainer.fit is recorded while it runs): the
        # run autologging started for it ends as failed, before the error goes on.
        if run.owned and fluent.active_run() is run and not handed:
            fluent.end_run("FAILED")
        raise
    finally:
        # A pipeline step's own run (attached, not owned) stays open for the step.
        if run.owned and fluent.active_run() is run:
            if handed:
                run_ending(run, "FINISHED")
                fluent._set_active(getattr(run, "parent", None))
            else:
                fluent.end_run("FINISHED")


def _model_files(model: Any, training_input: Any) -> list:
    from jupyter_mlops.registry.run_model import model_files

    return model_files(model, training_input)
