"""Tags and descriptions of experiments, registered models and versions travel both ways
between MLflow (stores written by the real ``mlflow`` client) and this store: added where the
other side has none, never overwriting an edit, a second run adding nothing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from unittest import mock

import pytest

from jupyter_mlops.client import Client
from jupyter_mlops.interop.mlflow_export import export_mlflow
from jupyter_mlops.interop.mlflow_import import import_mlflow
from tests.conftest import _new_identity

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

EXP_TAGS = {"team": "blue", "mlflow.note.content": "what we tried"}
MODEL_TAGS = {"owner": "ada", "tier": "gold"}
VERSION_TAGS = {"validated": "yes"}


def build(uri: str, tmp: Path) -> None:
    from mlflow import MlflowClient

    with mock.patch.dict(os.environ, {"MLFLOW_TRACKING_URI": uri}):
        c = MlflowClient(tracking_uri=uri)
        local = (tmp / "arts").as_uri() if "://" in uri else None
        exp = c.create_experiment("meta-a", artifact_location=local and f"{local}/a",
                                  tags=EXP_TAGS)
        c.create_experiment("meta-empty", tags={"kind": "placeholder"})
        gone = c.create_experiment("meta-gone", tags={"kind": "old"})
        c.delete_experiment(gone)
        run = c.create_run(exp, run_name="r")
        art = tmp / "art" / "model"
        art.mkdir(parents=True)
        (art / "model.pkl").write_bytes(b"not really a pickle")
        c.log_artifacts(run.info.run_id, str(art.parent))
        c.set_terminated(run.info.run_id)
        c.create_registered_model("meta-m", tags=MODEL_TAGS, description="the model")
        c.create_model_version("meta-m", f"runs:/{run.info.run_id}/model",
                               run_id=run.info.run_id, tags=VERSION_TAGS,
                               description="first one")


@pytest.fixture(params=["folder", pytest.param("sqlite", marks=pytest.mark.slow)])
def source(request, tmp_path) -> str:
    # sqlite is slow: MLflow builds its database through ~40 Alembic migrations (seconds).
    uri = (str(tmp_path / "mlruns") if request.param == "folder"
           else f"sqlite:///{tmp_path / 'mlflow.db'}")
    build(uri, tmp_path)
    return uri


@pytest.fixture
def ours(tmp_path: Path, _sqlite_template, monkeypatch):
    """A new store of ours, copied from the session's migrated template (no migrations).

    In a private working folder: MLflow's default client would write ./mlflow.db there."""
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(_sqlite_template, tmp_path / "ours.db")
    url = f"sqlite:///{tmp_path / 'ours.db'}"
    _new_identity(url)
    client = Client(url, str(tmp_path / "ours-art"))
    try:
        yield client
    finally:
        client.writer.close()


def experiment(client: Client, name: str):
    return next(e for e in client.list_experiments("all") if e.name == name)


def test_import_carries_tags_and_descriptions_once_and_keeps_edits(source, ours):
    client = ours
    report = import_mlflow(client, source, progress=False)
    assert experiment(client, "meta-a").tags == EXP_TAGS
    assert experiment(client, "meta-empty").tags == {"kind": "placeholder"}
    assert not any(e.name == "meta-gone" for e in client.list_experiments("all"))
    model = client.registry.get_model("meta-m")
    assert (model.tags, model.description) == (MODEL_TAGS, "the model")
    version = client.registry.get_version("meta-m", 1)
    assert (version.tags, version.description) == (VERSION_TAGS, "first one")
    assert report.metadata_added == len(EXP_TAGS) + 1 + len(MODEL_TAGS) + len(
        VERSION_TAGS)
    assert "tag(s) and description(s)" in report.summary()

    # Edited here, then imported again: the edit stays and nothing is added.
    exp = experiment(client, "meta-a")
    client.set_experiment_tag(exp.id, "team", "red")
    client.registry.set_model_tag("meta-m", "tier", "silver")
    again = import_mlflow(client, source, progress=False)
    assert again.added_nothing and again.metadata_added == 0, again.summary()
    assert experiment(client, "meta-a").tags["team"] == "red"
    assert client.registry.get_model("meta-m").tags["tier"] == "silver"


def test_version_tags_and_descriptions_go_back_out(source, ours, tmp_path):
    """Imported from one MLflow store, exported to another: the version keeps them."""
    from mlflow import MlflowClient

    import_mlflow(ours, source, progress=False)
    ours.registry.set_version_tag("meta-m", 1, "checked", "here")
    dest = str(tmp_path / "out-mlruns")
    export_mlflow(ours, dest, progress=False)
    version = MlflowClient(tracking_uri=dest, registry_uri=dest).get_model_version("meta-m", "1")
    assert version.tags == {**VERSION_TAGS, "checked": "here"}
    assert version.description == "first one"
    model = MlflowClient(tracking_uri=dest, registry_uri=dest).get_registered_model("meta-m")
    assert model.tags == MODEL_TAGS and model.description == "the model"


def test_export_carries_them_and_a_second_export_adds_nothing(ours, tmp_path):
    from mlflow import MlflowClient

    client = ours
    run = client.create_run(experiment="meta-x", name="r")
    client.end_run(run.id)
    exp = experiment(client, "meta-x")
    client.set_experiment_tag(exp.id, "team", "green")
    client.set_experiment_tag(exp.id, "mlflow.note.content", "notes here")
    lonely = client.create_experiment("meta-lonely")
    client.set_experiment_tag(lonely.id, "kind", "no runs")
    client.registry.create_model("meta-e", description="exported", tags={"owner": "bo"})
    dest = str(tmp_path / "dest-mlruns")
    first = export_mlflow(client, dest, progress=False)
    assert first.metadata_exported == 4  # team, note, kind, owner (description: on create)

    ml = MlflowClient(tracking_uri=dest, registry_uri=dest)
    got = ml.get_experiment_by_name("meta-x").tags
    assert got["team"] == "green" and got["mlflow.note.content"] == "notes here"
    assert ml.get_experiment_by_name("meta-lonely").tags["kind"] == "no runs"
    model = ml.get_registered_model("meta-e")
    assert (model.tags, model.description) == ({"owner": "bo"}, "exported")

    ml.set_registered_model_tag("meta-e", "owner", "edited in mlflow")
    second = export_mlflow(client, dest, progress=False)
    assert second.metadata_exported == 0 and second.runs_exported == 0
    assert ml.get_registered_model("meta-e").tags["owner"] == "edited in mlflow"


def test_hostile_tags_are_skipped_one_by_one(ours):
    """A key with '..' or a value over MLflow's limit is noted and skipped; the rest lands."""
    from jupyter_mlops.interop.mlflow_import import ImportReport
    from jupyter_mlops.interop.mlflow_metadata import import_metadata

    client = ours
    report = ImportReport("test")
    import_metadata(client, [{"name": "meta-h", "lifecycle_stage": "active", "tags": {
        "ok": "fine", "../up": "x", "big": "y" * 5001, "nul": "a\x00b"}}], [], report)
    assert experiment(client, "meta-h").tags == {"ok": "fine"}
    assert report.metadata_added == 1 and len(report.notes) == 3
    assert all("skipped" in n for n in report.notes)


def test_an_experiment_deleted_here_is_deleted_there_with_its_runs(ours, tmp_path):
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = ours
    kept = client.create_run(experiment="meta-kept", name="k")
    client.end_run(kept.id)
    gone = client.create_run(experiment="meta-dropped", name="d")
    client.end_run(gone.id)
    client.delete_experiment(experiment(client, "meta-dropped").id)
    dest = str(tmp_path / "dest-mlruns")
    first = export_mlflow(client, dest, progress=False)
    assert first.runs_exported == 2 and first.experiments_deleted == 1, first.summary()
    assert "1 experiment(s) deleted here, so deleted there" in first.summary()

    ml = MlflowClient(tracking_uri=dest)
    assert ml.get_experiment_by_name("meta-kept").lifecycle_stage == "active"
    dropped = ml.get_experiment_by_name("meta-dropped")
    assert dropped.lifecycle_stage == "deleted"
    [run] = ml.search_runs([dropped.experiment_id], run_view_type=ViewType.ALL)
    assert run.data.tags["mlflow.runName"] == "d"  # its run went along, then out of sight

    # A new run in the deleted experiment: exported into it, which stays deleted.
    late = client.create_run(experiment="meta-dropped", name="late")
    client.end_run(late.id)
    second = export_mlflow(client, dest, progress=False)
    assert second.runs_exported == 1 and second.experiments_deleted == 0, second.summary()
    assert ml.get_experiment_by_name("meta-dropped").lifecycle_stage == "deleted"
    assert len(ml.search_runs([dropped.experiment_id], run_view_type=ViewType.ALL)) == 2

    # Restored here: restored there on the next export (with a note), nothing exported twice.
    client.restore_experiment(experiment(client, "meta-dropped").id)
    third = export_mlflow(client, dest, progress=False)
    assert third.runs_exported == 0
    assert ml.get_experiment_by_name("meta-dropped").lifecycle_stage == "active"
    assert any("deleted in MLflow, active here; restored there" in n for n in third.notes)
