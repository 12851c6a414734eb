"""Register → alias → load → predict, versions, URIs, lineage, runs:/ files, generic models."""

from __future__ import annotations

import io

import numpy as np
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops import fluent as registry


def test_round_trip_register_alias_load_predict(client, data, pipeline):
    X, y = data
    with mlops.start_run(name="train") as run:
        mlops.log_metric("accuracy", pipeline.score(X, y))
        version = registry.register_model(pipeline, "cancer", input_example=X.head(3),
                                          description="LR on breast cancer")
    assert (version.name, version.version, version.run_id) == ("cancer", 1, run.id)
    assert version.flavor == "skops" and version.model_class == "sklearn.pipeline.Pipeline"
    assert version.metrics["accuracy"] == pytest.approx(pipeline.score(X, y))  # was buffered

    registry.set_alias("cancer", "champion", 1)
    loaded = registry.load_model("models:/cancer@champion")

    assert loaded.version.version == 1 and loaded.version.aliases == ("champion",)
    np.testing.assert_array_equal(loaded.predict(X), pipeline.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), pipeline.predict_proba(X))
    assert type(loaded.model) is type(pipeline)


def test_versions_count_up_and_every_uri_form_resolves(reg, pipeline, forest):
    v1 = reg.register_model(pipeline, "m")
    v2 = reg.register_model(forest, "m")
    assert (v1.version, v2.version) == (1, 2)
    reg.set_alias("m", "challenger", 1)
    assert reg.resolve("models:/m/1").digest == v1.digest
    assert reg.resolve("models:/m").version == 2
    assert reg.resolve("models:/m/latest").version == 2
    assert reg.resolve("models:/m@challenger").version == 1
    assert [v.version for v in reg.list_versions("m")] == [1, 2]
    model = reg.get_model("m")
    assert model.latest_version == 2 and model.aliases == {"challenger": 1}
    assert [m.name for m in reg.list_models()] == ["m"]


def test_forest_types_from_our_own_file_are_recorded_and_trusted(reg, data, forest):
    # With skops asked for (forests default to sklearn-trees, see test_treefile.py).
    X, _ = data
    version = reg.register_model(forest, "rf", flavor="skops")
    assert version.flavor == "skops" and version.trusted_types == ["sklearn.tree._tree.Tree"]
    np.testing.assert_array_equal(reg.load_model("models:/rf/1").predict(X), forest.predict(X))


@pytest.mark.parametrize("ref", ["models:/nope/1", "models:/nope@champion", "models:/nope"])
def test_unknown_model_is_not_found(reg, ref):
    with pytest.raises(NotFoundError, match="no registered model 'nope'"):
        reg.load_model(ref)


def test_unknown_version_and_alias_are_not_found(reg, pipeline):
    reg.register_model(pipeline, "m")
    with pytest.raises(NotFoundError, match="no version 7; its latest version is 1"):
        reg.load_model("models:/m/7")
    with pytest.raises(NotFoundError, match="no alias 'champion'"):
        reg.load_model("models:/m@champion")


@pytest.mark.parametrize("ref", ["m", "models:/", "models:/m/0", "models:/m/x1", "models:/m@1a",
                                 "models:/a/b/c", "models:/m@latest", "runs:/abc/model"])
def test_malformed_uris_are_refused(reg, ref):
    if ref == "m":  # a bare name is accepted as shorthand: it must then exist
        with pytest.raises(NotFoundError):
            reg.load_model(ref)
        return
    with pytest.raises(InvalidInputError):
        reg.load_model(ref)


@pytest.mark.parametrize("name", ["", "a/b", "a@b", "has space", "-x", "x" * 257, None])
def test_bad_model_names_are_refused_before_anything_is_stored(reg, pipeline, name):
    with pytest.raises(InvalidInputError):
        reg.register_model(pipeline, name)
    assert reg.list_models() == []


def test_register_links_run_to_model_in_lineage(client, reg, pipeline, data):
    X, _ = data
    run = client.create_run(name="fit")
    client.log_dataset(run.id, X, "cancer-features")
    reg.register_model(pipeline, "m", run=run)
    graph = client.lineage("model:m/1")
    assert ("run:" + run.id, "model:m/1", "produced") in {(e.src, e.dst, e.relation)
                                                          for e in graph.edges}
    assert any(n.startswith("dataset:") for n in graph.upstream())
    client.end_run(run.id)


def test_register_from_a_runs_uri(client, reg, pipeline, data):
    import skops.io as sio

    X, _ = data
    run = client.create_run(name="fit")
    client.log_metric(run.id, "auc", 0.99)
    client.log_artifact(run.id, sio.dumps(pipeline), "model.skops")
    version = reg.register_model(f"runs:/{run.id}/model.skops", "from-file")
    assert version.run_id == run.id and version.metrics == {"auc": 0.99}
    assert version.digest == client.list_artifacts(run.id)[0].digest  # no second copy
    np.testing.assert_array_equal(
        reg.load_model("models:/from-file/1").predict(X), pipeline.predict(X))
    client.end_run(run.id)


def test_runs_uri_file_must_have_its_types_vouched_for(client, reg, forest):
    import skops.io as sio

    run = client.create_run()
    client.log_artifact(run.id, sio.dumps(forest), "rf.skops")
    with pytest.raises(InvalidInputError, match=r"sklearn\.tree\._tree\.Tree"):
        reg.register_model(f"runs:/{run.id}/rf.skops", "rf")
    with pytest.raises(NotFoundError):
        reg.get_model("rf")
    version = reg.register_model(f"runs:/{run.id}/rf.skops", "rf",
                                 trusted_types=["sklearn.tree._tree.Tree"])
    assert version.trusted_types == ["sklearn.tree._tree.Tree"]
    client.end_run(run.id)


def test_runs_uri_to_a_missing_artifact_or_run(client, reg):
    run = client.create_run()
    with pytest.raises(NotFoundError, match="no artifact named 'model.skops'"):
        reg.register_model(f"runs:/{run.id}/model.skops", "m")
    with pytest.raises(NotFoundError):
        reg.register_model(f"runs:/{'0' * 32}/model.skops", "m")
    client.end_run(run.id)


class Doubler:
    """A generic model: anything with predict()."""

    def predict(self, x):
        return np.asarray(x) * 2


def test_generic_models_need_trust_to_register_and_to_load(reg):
    with pytest.raises(InvalidInputError, match="trusted=True"):
        reg.register_model(Doubler(), "generic")
    assert reg.list_models() == []
    version = reg.register_model(Doubler(), "generic", trusted=True)
    assert version.flavor == "pickle"
    assert reg.audit_log("generic")[0].details["trusted"] is True
    with pytest.raises(InvalidInputError, match="trusted=True"):
        reg.load_model("models:/generic/1")
    assert list(reg.load_model("models:/generic/1", trusted=True).predict([1, 2])) == [2, 4]


def test_objects_without_predict_cannot_be_registered(reg):
    with pytest.raises(InvalidInputError, match="no predict"):
        reg.register_model({"weights": [1, 2]}, "m", trusted=True)


def test_signature_inferred_from_training_data_is_enforced(reg, pipeline, data):
    X, _ = data
    reg.register_model(pipeline, "m", signature=X)
    loaded = reg.load_model("models:/m/1")
    with pytest.raises(InvalidInputError, match="missing column.*'mean radius'"):
        loaded.predict(X.drop(columns=["mean radius"]))
    bad = X.astype({"mean area": str})
    with pytest.raises(InvalidInputError, match="'mean area' should be float"):
        loaded.predict(bad)
    shuffled = X[list(reversed(X.columns))].assign(extra=1)
    np.testing.assert_array_equal(loaded.predict(shuffled), pipeline.predict(X))


def test_input_example_is_stored_and_gives_the_signature(reg, pipeline, data):
    X, _ = data
    version = reg.register_model(pipeline, "m", input_example=X.head(10))
    assert len(version.input_example["data"]) == 5
    assert [c["name"] for c in version.signature["columns"]] == list(X.columns)


def test_register_uses_the_active_run_by_default_and_none_opts_out(client, pipeline):
    run = mlops.start_run()
    assert registry.register_model(pipeline, "m").run_id == run.id
    assert registry.register_model(pipeline, "m", run=None).run_id is None
    mlops.end_run()
    assert registry.register_model(pipeline, "m").run_id is None


def test_user_comes_from_argument_then_environment(reg, pipeline, monkeypatch):
    monkeypatch.setenv("MLOPS_USER", "env-user")
    assert reg.register_model(pipeline, "m").created_by == "env-user"
    assert reg.register_model(pipeline, "m", user="server-user").created_by == "server-user"


def test_records_are_json_ready(reg, pipeline):
    import json

    version = reg.register_model(pipeline, "m")
    json.dumps(version.to_dict())
    json.dumps(reg.get_model("m").to_dict())


def test_pickle_file_from_a_run_needs_trust(client, reg):
    import pickle

    run = client.create_run()
    client.log_artifact(run.id, pickle.dumps(Doubler()), "model.pkl")
    with pytest.raises(InvalidInputError, match="trusted=True"):
        reg.register_model(f"runs:/{run.id}/model.pkl", "p")
    assert reg.register_model(f"runs:/{run.id}/model.pkl", "p", trusted=True).flavor == "pickle"
    client.end_run(run.id)


def test_joblib_file_from_a_run(client, reg, pipeline, data):
    import joblib

    X, _ = data
    buf = io.BytesIO()
    joblib.dump(pipeline, buf)
    run = client.create_run()
    client.log_artifact(run.id, buf.getvalue(), "model.joblib")
    version = reg.register_model(f"runs:/{run.id}/model.joblib", "j", trusted=True)
    assert version.flavor == "joblib"
    loaded = reg.load_model("models:/j/1", trusted=True)
    np.testing.assert_array_equal(loaded.predict(X), pipeline.predict(X))
    client.end_run(run.id)


def test_our_compact_skops_files_are_plain_skops_files(pipeline, forest, data):
    import skops.io as sio

    from jupyter_mlops.registry.flavors import SkopsFlavor

    X, _ = data
    for model in (pipeline, forest):
        saved = SkopsFlavor().save(model)
        assert list(saved.untrusted_types) == sio.get_untrusted_types(data=saved.data)
        back = sio.loads(saved.data, trusted=list(saved.untrusted_types))
        np.testing.assert_array_equal(back.predict(X), model.predict(X))
        assert len(saved.data) <= len(sio.dumps(model))
