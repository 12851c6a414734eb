"""PyTorch Lightning autologging with the real torch (the CPU build) and lightning on a real
store: ``Trainer.fit`` records the module's hparams, the trainer's and optimizer's settings,
every epoch's metrics (step = epoch), early stopping's result and the module's weights as a
state_dict (never a pickled module); a failing store never fails training; disabling puts
the original ``fit`` back."""

from __future__ import annotations

import importlib
import io
import json
import math
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jupyter_mlops as mlops
from jupyter_mlops.errors import NotFoundError
from jupyter_mlops.hashing import hash_array
from jupyter_mlops.tracking.autolog import lightning_fit


@pytest.fixture(scope="module")
def lit():
    """torch, Lightning and the tiny module, imported when a test here first runs (see
    lightning_parts.py for why not at collection)."""
    from tests.autolog import lightning_parts
    return lightning_parts


@pytest.fixture
def loaders(lit):
    return lit.loaders()


def _detail(client, run_id):
    client.flush()
    return client.get_run(run_id)


def test_fit_records_hparams_settings_epoch_metrics_early_stopping_and_weights(
        lit, autologging, loaders):
    client, (train, valid) = autologging, loaders
    lit.torch.manual_seed(0)
    module = lit.Tiny(hidden=5, lr=0.05)
    trainer = lit.trainer(callbacks=[lit.EarlyStopping("val_loss", patience=3)])
    callbacks_before = list(trainer.callbacks)
    with mlops.start_run() as run:
        trainer.fit(module, train, valid)
    assert trainer.callbacks == callbacks_before  # the recording callback was for this fit
    detail = _detail(client, run.id)
    params, metrics = dict(detail.params), dict(detail.metrics)
    assert params["hidden"] == "5" and params["lr"] == "0.05"  # save_hyperparameters()
    assert params["max_epochs"] == "2"
    assert params["optimizer_name"] == "SGD" and params["optimizer_lr"] == "0.05"
    assert params["optimizer_momentum"] == "0.5"
    assert params["early_stopping_monitor"] == "val_loss"
    assert params["early_stopping_patience"] == "3"
    assert dict(detail.tags)["mlops.autolog.estimator"] == "lightning.pytorch.Trainer.fit"

    for key in ("train_loss", "val_loss"):
        history = client.metric_history(run.id, key)
        assert [p.step for p in history] == [0, 1], key  # one value per epoch, no sanity run
        assert history[-1].value == pytest.approx(float(trainer.callback_metrics[key]))
    assert metrics["stopped_epoch"] == 0.0  # it did not stop early
    assert metrics["early_stopping_best_score"] == pytest.approx(
        min(p.value for p in client.metric_history(run.id, "val_loss")))

    # The TensorDatasets behind both loaders, as content-hashed dataset versions.
    for prefix, loader in (("training", train), ("validation", valid)):
        for name, tensor in zip(("X", "y"), loader.dataset.tensors):
            assert client.get_dataset(f"{prefix}_{name}").digest == hash_array(tensor.numpy())

    about = json.loads(client.read_artifact(run.id, "model/lightning.json")[1])
    assert about["module_class"].endswith("Tiny")
    assert about["signature"] == {"type": "tensor", "dtype": "float32", "shape": [3]}
    name = "model/" + about["file"]
    data = client.read_artifact(run.id, name)[1]
    if about["format"] == "safetensors":
        from safetensors.torch import load
        state = load(data)
    else:
        assert name == "model/state_dict.pt"
        state = lit.torch.load(io.BytesIO(data), weights_only=True)  # tensors only, no code
    fresh = lit.Tiny(hidden=5)
    fresh.load_state_dict(state)
    for key, value in module.state_dict().items():
        assert lit.torch.equal(fresh.state_dict()[key], value), key


def _weights(client, run_id):
    about = json.loads(client.read_artifact(run_id, "model/lightning.json")[1])
    return about, client.read_artifact(run_id, "model/" + about["file"])[1]


def test_weights_are_safetensors_when_installed_and_tied_weights_load_back(
        lit, autologging, loaders):
    """safetensors is in the test extra; tied weights (one tensor under two names) are the
    case safetensors refuses unless each is copied."""
    from safetensors.torch import load

    client, (train, _) = autologging, loaders
    module = lit.Tiny()
    module.tied = lit.torch.nn.Linear(4, 1)
    module.tied.weight = module.net[2].weight  # one tensor under two names
    with mlops.start_run() as run:
        lit.trainer(max_epochs=1).fit(module, train)
    client.flush()
    about, data = _weights(client, run.id)
    assert (about["format"], about["file"]) == ("safetensors", "model.safetensors")
    state = load(data)
    assert lit.torch.equal(state["net.0.weight"], module.net[0].weight)
    assert lit.torch.equal(state["tied.weight"], module.net[2].weight)


def test_without_safetensors_weights_are_a_torch_state_dict_read_with_weights_only(
        lit, autologging, loaders, monkeypatch):
    client, (train, _) = autologging, loaders
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)  # as if not installed
    module = lit.Tiny(hidden=3)
    with mlops.start_run() as run:
        lit.OwnTrainer(max_epochs=1, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False).fit(module, train)
    client.flush()
    about, data = _weights(client, run.id)
    assert (about["format"], about["file"]) == ("torch-state-dict", "state_dict.pt")
    assert "weights_only=True" in about["load"]
    state = lit.torch.load(io.BytesIO(data), weights_only=True)
    assert set(state) == set(module.state_dict())
    assert [p.step for p in client.metric_history(run.id, "train_loss")] == [0]


def test_a_fit_outside_a_run_gets_its_own_run_ended_after_and_nan_is_kept(
        lit, autologging, loaders):
    client, (train, _) = autologging, loaders
    before = {r.id for r in client.search_runs()}
    lit.trainer(max_epochs=1, limit_val_batches=0).fit(lit.Tiny(nan_metric=True), train)
    client.flush()
    (run,) = [r for r in client.search_runs() if r.id not in before]
    assert run.status == "FINISHED" and mlops.active_run() is None
    ratio = client.metric_history(run.id, "ratio")
    assert [p.step for p in ratio] == [0] and math.isnan(ratio[0].value)
    assert "val_loss" not in dict(client.get_run(run.id).metrics)


def test_an_epoch_without_validation_repeats_no_stale_validation_value(
        lit, autologging, loaders):
    client, (train, valid) = autologging, loaders
    with mlops.start_run() as run:
        lit.trainer(max_epochs=2, check_val_every_n_epoch=2).fit(lit.Tiny(), train, valid)
    client.flush()
    assert [p.step for p in client.metric_history(run.id, "val_loss")] == [1]
    assert [p.step for p in client.metric_history(run.id, "train_loss")] == [0, 1]


def test_a_fit_that_raises_ends_its_own_run_as_failed(
        lit, autologging, loaders):
    client, (train, _) = autologging, loaders

    class Broken(lit.Tiny):
        def training_step(self, batch, batch_idx):
            raise RuntimeError("boom in training")

    before = {r.id for r in client.search_runs()}
    with pytest.raises(RuntimeError, match="boom in training"):
        lit.trainer(max_epochs=1).fit(Broken(), train)
    client.flush()
    (run,) = [r for r in client.search_runs() if r.id not in before]
    assert run.status == "FAILED" and mlops.active_run() is None


def test_a_failing_store_does_not_fail_fit_and_is_reported_once(
        lit, autologging, loaders, monkeypatch, capsys):
    client, (train, valid) = autologging, loaders

    def refuse(*args, **kwargs):
        raise OSError("store is down")

    monkeypatch.setattr(client, "log_metrics", refuse)
    monkeypatch.setattr(client, "log_params", refuse)
    module = lit.Tiny()
    with mlops.start_run():
        lit.trainer(max_epochs=2).fit(module, train, valid)
    err = [line for line in capsys.readouterr().err.splitlines() if "jupyter-mlops" in line]
    assert len(err) == 1, err  # one line for the whole fit, not one per epoch
    assert "store is down" in err[0] and "the fit itself succeeded" in err[0]


def test_an_mlflow_logger_is_left_to_log_alone(
        lit, autologging, loaders):
    client, (train, _) = autologging, loaders
    from lightning.pytorch.loggers import Logger

    class MLFlowLikeLogger(Logger):  # named like MLflow's: it logs the run itself
        name, version = "mlflow-like", "0"

        def log_metrics(self, metrics, step=None):
            pass

        def log_hyperparams(self, params, *args, **kwargs):
            pass

    with mlops.start_run() as run:
        lit.trainer(max_epochs=1, logger=MLFlowLikeLogger()).fit(lit.Tiny(), train)
    detail = _detail(client, run.id)
    assert dict(detail.params) == {} and dict(detail.metrics) == {}


def test_log_models_and_datasets_false_and_disable_restore_the_original_fit(
        lit, autologging, loaders):
    client, (train, _) = autologging, loaders
    original = lit.pl.Trainer.fit.__mlops_autolog_original__
    mlops.autolog(log_models=False, log_datasets=False)
    with mlops.start_run() as run:
        lit.trainer(max_epochs=1).fit(lit.Tiny(), train)
    client.flush()
    assert client.metric_history(run.id, "train_loss")
    assert not [a for a in client.list_artifacts(run.id) if a.name.startswith("model/")]
    with pytest.raises(NotFoundError):
        client.get_dataset("training_X")
    mlops.autolog(disable=True)
    assert lit.pl.Trainer.fit is original
    with mlops.start_run() as run:
        lit.trainer(max_epochs=1).fit(lit.Tiny(), train)
    assert dict(_detail(client, run.id).metrics) == {}


@pytest.mark.slow(reason="a fresh interpreter importing torch, lightning and "
                         "pytorch_lightning: 10-35 s under load")
def test_lightning_and_pytorch_lightning_imported_after_autolog_are_patched_on_import(
        tmp_path):
    code = (
        "import sys, jupyter_mlops as mlops\n"
        "mlops.autolog()\n"
        "assert 'lightning' not in sys.modules and 'torch' not in sys.modules\n"
        "import lightning.pytorch as pl, pytorch_lightning as ptl, torch\n"
        "assert hasattr(pl.Trainer.fit, '__mlops_autolog_original__')\n"
        "assert hasattr(ptl.Trainer.fit, '__mlops_autolog_original__')\n"
        "torch.set_num_threads(1)\n"
        "class M(ptl.LightningModule):\n"
        "    def __init__(self):\n"
        "        super().__init__(); self.layer = torch.nn.Linear(3, 1)\n"
        "    def training_step(self, batch, i):\n"
        "        loss = torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])\n"
        "        self.log('loss', loss, on_epoch=True, on_step=False); return loss\n"
        "    def configure_optimizers(self):\n"
        "        return torch.optim.SGD(self.parameters(), lr=0.1)\n"
        "X = torch.randn(16, 3)\n"
        "data = torch.utils.data.TensorDataset(X, X.sum(1, keepdim=True))\n"
        "ptl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False,\n"
        "            enable_progress_bar=False, enable_model_summary=False).fit(\n"
        "    M(), torch.utils.data.DataLoader(data, batch_size=8))\n"
        "mlops.flush()\n"
        "(run,) = mlops.search_runs()\n"
        "assert run.tags['mlops.autolog.estimator'] == 'pytorch_lightning.Trainer.fit', run\n"
        "assert [p.step for p in mlops.get_client().metric_history(run.id, 'loss')] == [0, 1]\n"
        "mlops.autolog(disable=True)\n"
        "assert not hasattr(pl.Trainer.fit, '__mlops_autolog_original__')\n"
        "assert not hasattr(ptl.Trainer.fit, '__mlops_autolog_original__')\n"
        "print('ok')\n")
    env = {"MLOPS_TRACKING_URI": f"sqlite:///{tmp_path}/m.db",
           "MLOPS_ARTIFACT_ROOT": str(tmp_path / "art"), "PATH": "/usr/bin:/bin"}
    env.update({k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "HOME")})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=180)
    assert out.stdout.strip().endswith("ok"), out.stderr[-2000:]


class Odd:
    def __repr__(self):
        return "<odd>"


def test_hostile_hparams_and_metric_names_are_left_out_or_cut_never_fatal(
        lit, autologging, loaders):
    client, (train, _) = autologging, loaders

    class Hostile(lit.Tiny):
        def __init__(self, **extra):
            super().__init__()
            self.save_hyperparameters(extra)

        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            self.log("bad\x00name", loss, on_step=False, on_epoch=True)
            self.log("train/loss by slash", loss, on_step=False, on_epoch=True)
            return loss

    module = Hostile(**{"k" * 300: 1, "ctl\x01": 2, "obj": Odd(), "long": "v" * 10_000,
                        "tensor": lit.torch.ones(2), "nested": {"a": [1, 2]}})
    with mlops.start_run() as run:
        lit.trainer(max_epochs=1).fit(module, train)
    detail = _detail(client, run.id)
    params, metrics = dict(detail.params), dict(detail.metrics)
    assert params["obj"] == "<odd>" and params["hidden"] == "4"
    assert 0 < len(params["long"]) < 10_000  # cut to the param limit, not refused
    assert "tensor" in params and "nested" in params
    assert not [k for k in params if k.startswith("kkk") or k.startswith("ctl")]
    assert "train/loss by slash" in metrics and "train_loss" in metrics
    assert not [k for k in metrics if k.startswith("bad")]


def _tensor(values):
    return importlib.import_module("torch").tensor(values)


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(
    st.text(min_size=0, max_size=300),
    st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**40, 10**40),
              st.none(), st.booleans(), st.sampled_from(["0", "nan", "1e3", "x"]),
              st.lists(st.floats(allow_nan=False), max_size=3).map(_tensor)),
    max_size=8))
def test_callback_metrics_become_storable_scalars_or_are_left_out(metrics):
    """Whatever a module logs, what is kept is a float under a name the store accepts;
    one-element tensors and plain numbers are kept (NaN and inf too)."""
    from jupyter_mlops.errors import InvalidInputError
    from jupyter_mlops.validation import check_key

    out = lightning_fit._scalars(metrics)
    for key, value in out.items():
        check_key(key, "metric name")
        assert isinstance(value, float)
    for key, value in metrics.items():
        try:
            check_key(key, "metric name")
        except InvalidInputError:
            assert key not in out
            continue
        scalar = (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
            hasattr(value, "numel") and value.numel() == 1)
        assert (key in out) == scalar, (key, value)
        if scalar:
            expected = float(value)
            assert out[key] == expected or (math.isnan(out[key]) and math.isnan(expected))
