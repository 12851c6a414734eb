"""The ``lightning`` flavor with the real torch (CPU build) and Lightning: the weights
Lightning autologging writes register from ``runs:/<id>/model`` and load back as the state
dict, or — given the module's class or an instance — as the module rebuilt from the run's
hparams with the weights loaded strictly; nothing is unpickled, no class named by the file
is imported, and a damaged or hostile file is one clear line."""

from __future__ import annotations

import io
import json
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jupyter_mlops as mlops
from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.registry import lightning_weights
from jupyter_mlops.registry.flavors import get_flavor


@pytest.fixture(scope="module")
def lit():
    """torch, Lightning and the tiny module, imported when a test here first runs (see
    tests/autolog/lightning_parts.py for why not at collection)."""
    from tests.autolog import lightning_parts
    return lightning_parts


def _fit(lit, client, module, **trainer):
    train, _ = lit.loaders()
    with mlops.start_run() as run:
        lit.trainer(max_epochs=1, **trainer).fit(module, train)
    client.flush()
    return run


def _same_weights(lit, a, b) -> None:
    state = b if isinstance(b, dict) else b.state_dict()
    assert set(a.state_dict()) == set(state)
    for key, value in a.state_dict().items():
        assert lit.torch.equal(value, state[key]), key


def test_autologged_weights_register_and_rebuild_the_module(lit, autologging, no_unpickling):
    client = autologging
    module = lit.Tiny(hidden=6, lr=0.1)
    run = _fit(lit, client, module)

    version = client.registry.register_model(f"runs:/{run.id}/model", "tiny")
    assert (version.flavor, version.model_class) == (
        "lightning", "tests.autolog.lightning_parts.Tiny")  # a name to show, never imported
    uri = f"models:/tiny/{version.version}"

    state = client.registry.load_model(uri).model  # without module=: the tensors
    assert isinstance(state, dict)
    _same_weights(lit, module, state)
    with pytest.raises(InvalidInputError, match="state dict, which cannot predict"):
        client.registry.load_model(uri).predict(lit.torch.zeros(1, 3))

    rebuilt = client.registry.load_model(uri, module=lit.Tiny).model  # Tiny(**hparams)
    assert type(rebuilt) is lit.Tiny and rebuilt is not module
    assert (rebuilt.hparams.hidden, rebuilt.hparams.lr) == (6, 0.1)
    _same_weights(lit, module, rebuilt)

    mine = lit.Tiny(hidden=6)
    assert client.registry.load_model(uri, module=mine).model is mine  # loaded into yours
    _same_weights(lit, module, mine)

    # The weights file itself registers the same way, beside the same lightning.json.
    again = client.registry.register_model(f"runs:/{run.id}/model/model.safetensors", "tiny")
    assert again.flavor == "lightning"
    _same_weights(lit, module, client.registry.load_model(
        f"models:/tiny/{again.version}", module=lit.Tiny).model)


def test_a_tensors_only_torch_save_file_registers_too(lit, autologging, monkeypatch):
    client = autologging
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)  # as if not installed
    module = lit.Tiny(hidden=3)
    run = _fit(lit, client, module)
    assert json.loads(client.read_artifact(run.id, "model/lightning.json")[1])["file"] \
        == "state_dict.pt"
    version = client.registry.register_model(f"runs:/{run.id}/model/state_dict.pt", "pt")
    assert version.flavor == "lightning"
    rebuilt = client.registry.load_model("models:/pt/1", module=lit.Tiny).model
    assert rebuilt.hparams.hidden == 3
    _same_weights(lit, module, rebuilt)


def test_a_module_in_memory_registers_with_flavor_lightning(lit, client):
    module = lit.Tiny(hidden=5, lr=0.2)
    version = client.registry.register_model(module, "memory", flavor="lightning")
    assert version.model_class.endswith("lightning_parts.Tiny")
    rebuilt = client.registry.load_model("models:/memory/1", module=lit.Tiny).model
    assert rebuilt.hparams.lr == 0.2
    _same_weights(lit, module, rebuilt)
    with pytest.raises(InvalidInputError, match="not a torch module"):
        client.registry.register_model(object(), "memory", flavor="lightning")


def test_what_does_not_fit_is_one_clear_line(lit, client, forest):
    module = lit.Tiny(hidden=6)
    client.registry.register_model(module, "tiny6", flavor="lightning")
    for given, message in (
            (lit.Tiny(hidden=3), "weights do not fit this Tiny: .*size mismatch"),
            (lit.torch.nn.Linear, r"hparams \['hidden', 'lr', 'nan_metric'\] do not fit "
                                  r"Linear\(\.\.\.\)"),
            ("Tiny", "module= takes your LightningModule class .* not str"),
            (dict, "module= takes your LightningModule class .* not type")):
        with pytest.raises(InvalidInputError, match=message) as refused:
            client.registry.load_model("models:/tiny6/1", module=given)
        assert "\n" not in str(refused.value)
    client.registry.register_model(forest, "forest")
    with pytest.raises(InvalidInputError, match="module= is for lightning versions"):
        client.registry.load_model("models:/forest/1", module=lit.Tiny)


def test_hparams_that_are_not_json_are_named_and_a_bad_value_is_one_line(lit, client):
    module = lit.Tiny(hidden=4)
    module.hparams["schedule"] = {"warmup": 3}  # a dict: not a JSON scalar or list
    version = client.registry.register_model(module, "named", flavor="lightning")
    header, _ = lightning_weights.split(client.store.blobs.get_bytes(version.digest))
    assert header["hparams_left_out"] == ["schedule"] and "schedule" not in header["hparams"]

    crafted = lightning_weights.bundle(
        lightning_weights.split(client.store.blobs.get_bytes(version.digest))[1],
        {"format": "safetensors", "hparams": {"hidden": "many"}})
    with pytest.raises(InvalidInputError, match=r"Tiny\(\*\*hparams\) with the version's "
                                                "hparams raised TypeError"):
        get_flavor("lightning").load_into(crafted, lit.Tiny)


def test_a_pickled_module_or_code_in_the_file_is_refused_never_run(lit, client, capsys):
    class Payload:
        def __reduce__(self):
            return (print, ("the file ran code",))

    for obj, name in ((lit.Tiny(), "module"), ({"w": Payload()}, "payload")):
        buffer = io.BytesIO()
        lit.torch.save(obj, buffer)
        with mlops.start_run() as run:
            client.log_artifact(run.id, buffer.getvalue(), "model/state_dict.pt")
        client.flush()
        with pytest.raises(InvalidInputError, match="torch.load\\(weights_only=True\\) "
                                                    "refused it") as refused:
            client.registry.register_model(f"runs:/{run.id}/model/state_dict.pt", name)
        assert "\n" not in str(refused.value)
    assert "the file ran code" not in capsys.readouterr().out


def test_the_description_names_a_class_that_is_never_imported(lit, client):
    module = lit.Tiny(hidden=2)
    with mlops.start_run() as run:
        from jupyter_mlops.tracking.autolog.lightning_fit import weight_files

        (name, data), (_, about) = weight_files(module)
        client.log_artifact(run.id, data, name)
        client.log_artifact(run.id, {**json.loads(about), "module_class": "evil_pkg.Boom"},
                            "model/lightning.json")
    client.flush()
    version = client.registry.register_model(f"runs:/{run.id}/model", "named-class")
    assert version.model_class == "evil_pkg.Boom"
    _same_weights(lit, module, client.registry.load_model(
        "models:/named-class/1", module=lit.Tiny).model)
    assert "evil_pkg" not in sys.modules


_HEADER_VALUES = st.one_of(st.none(), st.integers(-3, 3), st.text(max_size=12),
                           st.lists(st.text(max_size=4), max_size=3),
                           st.dictionaries(st.text(max_size=6),
                                           st.one_of(st.integers(-2, 2), st.text(max_size=4),
                                                     st.floats(), st.lists(st.integers())),
                                           max_size=3))


@settings(max_examples=80, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(header=st.one_of(st.binary(max_size=40), st.fixed_dictionaries(
           {"version": st.just(1)},
           optional={key: _HEADER_VALUES for key in ("format", "module_class", "hparams",
                                                     "hparams_left_out", "signature")}
       ).map(lambda d: json.dumps(d).encode())),
       body=st.one_of(st.binary(max_size=120), st.sampled_from([b"PK\x03\x04", b"\x10" +
                                                                b"\0" * 7 + b"{}"])))
def test_hostile_files_only_raise_clear_errors(lit, header, body):
    """Random headers and bodies: the state dict and module= both only ever refuse."""
    flavor = get_flavor("lightning")
    data = lightning_weights.MAGIC + header.replace(b"\n", b" ") + b"\n" + body
    for candidate in (data, body):
        for load in (flavor.load, lambda d: flavor.load_into(d, lit.Tiny)):
            with pytest.raises(InvalidInputError) as refused:
                load(candidate)
            assert "\n" not in str(refused.value)
