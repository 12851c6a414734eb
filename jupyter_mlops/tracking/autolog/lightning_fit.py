"""What autologging records for PyTorch Lightning: each outermost ``Trainer.fit``.

``Trainer.fit`` (of ``lightning.pytorch`` and of ``pytorch_lightning``, whichever is imported)
is patched by :mod:`.function_patch`. Unlike the boosters' ``train``, it records *while* it
runs: the run is opened before training and a callback is added to the trainer for this one
fit (and taken out again after), which logs

* when training starts: the LightningModule's ``hparams`` (``save_hyperparameters()``), the
  trainer's settings (``max_epochs``, ``max_steps``, ...), each optimizer's class
  (``optimizer_name``) and its first param group's settings (``optimizer_lr``, ...) as params;
* at each epoch's end: every scalar in ``trainer.callback_metrics`` at step = the epoch
  (validation metrics when validation ends, so an epoch without validation repeats no stale
  value); NaN and ±inf are logged as they are, as the client keeps them;
* after the fit: ``EarlyStopping``'s and ``ModelCheckpoint``'s settings and results
  (``stopped_epoch``, ``early_stopping_best_score``, ``checkpoint_best_model_score``) and
  the module's ``state_dict`` — never the pickled module: ``model/model.safetensors`` when
  ``safetensors`` is installed, else ``model/state_dict.pt`` (``torch.save`` of the tensors
  only, which ``torch.load(..., weights_only=True)`` reads without running code) — with
  ``model/lightning.json`` describing it: format, the module's class (a name only), its
  ``hparams`` as JSON (a value that is not a JSON scalar or list is named in
  ``hparams_left_out``), the input signature. The registry's ``lightning`` flavor rebuilds
  the module from these (``register_model("runs:/<id>/model")``);
* the training and validation data, when a loader given to ``fit`` holds a
  ``TensorDataset`` (the common in-memory case): each tensor as a dataset version
  (``training_X``/``training_y``, ``validation_X``/``validation_y``; ``training_0``, ... for
  other counts), hashed by content as ``log_dataset`` does — so the lineage names the data a
  model was trained on. Datasets behind a custom ``Dataset`` or a ``LightningDataModule`` are
  not read (that would mean iterating them).

A fit whose trainer already logs through an MLflow-like logger (``MLFlowLogger``) is left to
that logger, so nothing is logged twice. A failure while recording is reported once per fit
and never breaks training; an exception from training itself propagates untouched.
"""

from __future__ import annotations

import functools
import io
import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jupyter_mlops.tracking.autolog import boosting, deferred, patching
from jupyter_mlops.tracking.autolog.record import RunScope, _write_files
from jupyter_mlops.tracking.json_params import json_safe

if TYPE_CHECKING:
    from jupyter_mlops.ports import RunRecorder

#: Trainer attributes logged as params when they are set.
TRAINER_SETTINGS = ("max_epochs", "min_epochs", "max_steps", "accumulate_grad_batches",
                    "gradient_clip_val", "check_val_every_n_epoch", "precision")

_config: dict[str, Any] = {"run_scope": None, "log_models": True, "log_datasets": True}
_lock = threading.Lock()


def configure(run_scope: RunScope | None, *, log_models: bool = True,
              log_datasets: bool = True) -> None:
    """Record into the runs ``run_scope`` yields (None: record nothing)."""
    with _lock:
        _config.update(run_scope=run_scope, log_models=log_models, log_datasets=log_datasets)


def wrap(original: Callable) -> Callable:
    """``Trainer.fit`` recording itself through an added callback (see the module doc)."""

    @functools.wraps(original)
    def fit(trainer, *args, **kwargs):
        run_scope, log_models = _config["run_scope"], _config["log_models"]
        if run_scope is None or not patching.enter_outermost():
            return original(trainer, *args, **kwargs)
        try:
            if _logs_elsewhere(trainer):
                return original(trainer, *args, **kwargs)
            return _recorded_fit(original, trainer, args, kwargs, run_scope, log_models)
        finally:
            patching.leave()

    return fit


def _recorded_fit(original: Callable, trainer: Any, args: tuple, kwargs: dict,
                  run_scope: RunScope, log_models: bool) -> Any:
    what = f"{type(trainer).__name__}.fit"
    try:
        scope = run_scope()
        client, run_id, take_end = scope.__enter__()
    except Exception as exc:  # no run to log into: train unrecorded
        patching.report(what, exc)
        return original(trainer, *args, **kwargs)
    recorder = _Recorder(client, run_id, what)
    package = _package(trainer)
    recorder.attempt("tags", lambda: client.set_tags(
        run_id, {"mlops.autolog.estimator": f"{package}.Trainer.fit"}))
    callback = None
    try:
        try:
            callback = _callback_class(trainer)(recorder)
            trainer.callbacks.append(callback)
        except Exception as exc:
            recorder.failed("the epoch callback", exc)
        result = original(trainer, *args, **kwargs)
        files: list = []
        datasets = (recorder.attempt("datasets", lambda: dataset_inputs(args, kwargs)) or []
                    if _config["log_datasets"] else [])
        recorder.attempt("early stopping and checkpoint results",
                         lambda: _callback_results(recorder, trainer))
        if log_models and trainer.lightning_module is not None:
            files = recorder.attempt("model weights", lambda: weight_files(
                trainer.lightning_module, input_signature(args, kwargs))) or []
        end = recorder.attempt("the run's end", take_end)
        if files or datasets or end is not None:
            try:
                deferred.submit(lambda: _write_files(client, run_id, files, datasets, end,
                                                     what, patching.report))
            except Exception as exc:  # no writer thread: the run still ends
                recorder.failed("model weights", exc)
                if end is not None:
                    recorder.attempt("the run's end", end)
    except BaseException as exc:  # training failed: a run started for it ends as failed
        _remove(trainer, callback)
        scope.__exit__(type(exc), exc, exc.__traceback__)
        raise
    _remove(trainer, callback)
    scope.__exit__(None, None, None)
    return result


def _loader_tensors(args: tuple, kwargs: dict):
    """``(prefix, tensors)`` of the ``TensorDataset`` behind ``fit``'s training and validation
    loaders (``fit(model, train_dataloaders, val_dataloaders, ...)``)."""
    for prefix, position, keyword in (("training", 1, "train_dataloaders"),
                                      ("validation", 2, "val_dataloaders")):
        loader = kwargs.get(keyword, args[position] if len(args) > position else None)
        tensors = getattr(getattr(loader, "dataset", None), "tensors", None)
        if isinstance(tensors, tuple) and tensors and all(hasattr(t, "detach") for t in tensors):
            yield prefix, tensors  # not: no loader, several, a DataModule, a Dataset of its own


def dataset_inputs(args: tuple, kwargs: dict) -> list[tuple[str, Any]]:
    """Those tensors copied to numpy arrays, named as scikit-learn's fit inputs are."""
    found: list[tuple[str, Any]] = []
    for prefix, tensors in _loader_tensors(args, kwargs):
        names = ("X", "y") if len(tensors) == 2 else tuple(map(str, range(len(tensors))))
        found += [(f"{prefix}_{name}", tensor.detach().cpu().numpy().copy())
                  for name, tensor in zip(names, tensors)]
    return found


def input_signature(args: tuple, kwargs: dict) -> dict | None:
    """What one input row of the training data looks like (dtype and shape without the batch
    dimension), for ``model/lightning.json``; None when the data is not a TensorDataset."""
    for prefix, tensors in _loader_tensors(args, kwargs):
        if prefix == "training":
            first = tensors[0]
            return {"type": "tensor", "dtype": str(first.dtype).removeprefix("torch."),
                    "shape": list(first.shape[1:])}
    return None


def _remove(trainer: Any, callback: Any) -> None:
    if callback is not None:
        try:
            trainer.callbacks.remove(callback)
        except ValueError:
            pass


class _Recorder:
    """Logs into one run; the first failure is reported, later ones are not (one line per
    fit, however many epochs fail)."""

    def __init__(self, client: RunRecorder, run_id: str, what: str):
        self.client, self.run_id, self.what = client, run_id, what
        self.reported = False

    def failed(self, part: str, exc: Exception) -> None:
        if not self.reported:
            self.reported = True
            patching.report(f"{self.what} ({part})", exc)

    def attempt(self, part: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:  # never break training over logging
            self.failed(part, exc)
            return None

    def params(self, params: dict[str, Any]) -> None:
        text = boosting.params_from_call(params, {})
        if text:
            self.attempt("params", lambda: self.client.log_params(self.run_id, text))

    def metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if metrics:
            self.attempt("metrics", lambda: self.client.log_metrics(
                self.run_id, metrics, step=step))


_callback_classes: dict[type, type] = {}


def _callback_class(trainer: Any) -> type:
    """The recording callback, subclassing the ``Callback`` of the trainer's own package
    (``lightning.pytorch`` or ``pytorch_lightning``: a trainer takes only its own)."""
    import importlib

    base = importlib.import_module(f"{_package(trainer)}.callbacks").Callback
    if base not in _callback_classes:
        _callback_classes[base] = type("MlopsAutologCallback", (_EpochLogger, base), {})
    return _callback_classes[base]


def _package(trainer: Any) -> str:
    """``lightning.pytorch`` or ``pytorch_lightning``: the package of the trainer's class, or
    of the Lightning class it subclasses (a user's own ``Trainer`` subclass)."""
    for cls in type(trainer).__mro__:
        for package in ("lightning.pytorch", "pytorch_lightning"):
            if cls.__module__.startswith(package + "."):
                return package
    return "lightning.pytorch"


class _EpochLogger:
    """Mixed into Lightning's ``Callback``: params at train start, metrics at epoch ends."""

    def __init__(self, recorder: _Recorder):
        super().__init__()
        self.recorder = recorder
        self._before_validation: dict[str, float] = {}
        self._validation_keys: set[str] = set()
        self._validated_epoch = -1

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.recorder.attempt("params", lambda: self.recorder.params(
            _run_params(trainer, pl_module)))

    def on_validation_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.sanity_checking:
            self._before_validation = self.recorder.attempt(
                "metrics", lambda: _scalars(trainer.callback_metrics)) or {}

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return

        def log() -> None:
            now = _scalars(trainer.callback_metrics)
            fresh = {k: v for k, v in now.items()
                     if k not in self._before_validation
                     or not _same(self._before_validation[k], v)}
            self._validation_keys |= set(fresh)
            self._validated_epoch = trainer.current_epoch
            self.recorder.metrics(fresh, step=trainer.current_epoch)

        self.recorder.attempt("validation metrics", log)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        def log() -> None:
            epoch = trainer.current_epoch
            # Validation metrics were logged when validation ended (or, in an epoch without
            # validation, would be the last epoch's values again).
            self.recorder.metrics({k: v for k, v in _scalars(trainer.callback_metrics).items()
                                   if k not in self._validation_keys}, step=epoch)

        self.recorder.attempt("training metrics", log)


def _run_params(trainer: Any, pl_module: Any) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in dict(getattr(pl_module, "hparams", None) or {}).items():
        params[str(key)] = value
    for name in TRAINER_SETTINGS:
        value = getattr(trainer, name, None)
        if value is not None:
            params[name] = value
    for i, optimizer in enumerate(getattr(trainer, "optimizers", None) or []):
        prefix = "optimizer" if i == 0 else f"optimizer{i}"
        params[f"{prefix}_name"] = type(optimizer).__name__
        groups = getattr(optimizer, "param_groups", None) or [{}]
        for key, value in groups[0].items():
            if key != "params" and isinstance(value, (str, int, float, bool, tuple, list)):
                params[f"{prefix}_{key}"] = value
    return params


def _callback_results(recorder: _Recorder, trainer: Any) -> None:
    params: dict[str, Any] = {}
    metrics: dict[str, float] = {}
    for callback in trainer.callbacks:
        kind = type(callback).__name__
        if hasattr(callback, "stopped_epoch") and hasattr(callback, "patience"):  # EarlyStopping
            params.update({"early_stopping_monitor": callback.monitor,
                           "early_stopping_mode": getattr(callback, "mode", None),
                           "early_stopping_patience": callback.patience,
                           "early_stopping_min_delta": getattr(callback, "min_delta", None)})
            metrics["stopped_epoch"] = float(callback.stopped_epoch)
            best = _scalar(getattr(callback, "best_score", None))
            if best is not None:
                metrics["early_stopping_best_score"] = best
        elif hasattr(callback, "best_model_score") and kind.endswith("Checkpoint"):
            if callback.monitor is not None:
                params["checkpoint_monitor"] = callback.monitor
            best = _scalar(callback.best_model_score)
            if best is not None:
                metrics["checkpoint_best_model_score"] = best
    recorder.params({k: v for k, v in params.items() if v is not None})
    recorder.metrics(metrics)


def weight_files(module: Any, signature: dict | None = None) -> list[tuple[str, Any]]:
    """The module's ``state_dict`` as artifact files: safetensors if installed, else
    ``torch.save`` of the tensors alone (``torch.load(weights_only=True)`` reads it); the
    description keeps the module's JSON-safe ``hparams`` and names the input ``signature``
    when the training data showed it."""
    import torch

    state = {key: value.detach().to("cpu")
             for key, value in module.state_dict().items() if isinstance(value, torch.Tensor)}
    try:
        from safetensors.torch import save as save_safetensors
    except ImportError:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        name, data, fmt = "model/state_dict.pt", buffer.getvalue(), "torch-state-dict"
    else:
        # safetensors refuses tensors sharing memory (tied weights): each gets its own copy.
        state = {key: value.clone().contiguous() for key, value in state.items()}
        name, data, fmt = "model/model.safetensors", save_safetensors(state), "safetensors"
    cls = type(module)
    hparams, left_out = json_safe(dict(getattr(module, "hparams", None) or {}))
    about = {"flavor": "pytorch-lightning", "format": fmt, "file": name.split("/", 1)[1],
             "module_class": f"{cls.__module__}.{cls.__qualname__}",
             "hparams": hparams, "hparams_left_out": left_out,
             "tensors": len(state), "torch_version": torch.__version__,
             "load": ("safetensors.torch.load(data)" if fmt == "safetensors" else
                      "torch.load(io.BytesIO(data), weights_only=True)")
             + " then module.load_state_dict(...)"}
    if signature is not None:
        about["signature"] = signature
    return [(name, data), ("model/lightning.json", json.dumps(about, indent=2).encode())]


def _logs_elsewhere(trainer: Any) -> bool:
    """The trainer already logs to an MLflow-like tracker (MLflow's own logger): leave it be."""
    for logger in getattr(trainer, "loggers", None) or []:
        if any("mlflow" in cls.__name__.lower() for cls in type(logger).__mro__):
            return True
    return False


def _scalars(metrics: Any) -> dict[str, float]:
    from jupyter_mlops.errors import InvalidInputError
    from jupyter_mlops.validation import check_key

    out: dict[str, float] = {}
    for key, value in dict(metrics or {}).items():
        number = _scalar(value)
        if number is None:
            continue
        try:
            check_key(str(key), "metric name")
        except InvalidInputError:
            continue  # a name no store accepts: leave it out rather than lose the rest
        out[str(key)] = number
    return out


def _scalar(value: Any) -> float | None:
    """A one-element tensor or a number as a float (NaN and ±inf included), else None."""
    if value is None or isinstance(value, (bool, str, bytes)):
        return None
    if hasattr(value, "numel"):
        if value.numel() != 1:
            return None
        value = value.detach().item()
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _same(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)
