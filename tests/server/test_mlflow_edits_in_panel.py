"""What MLflow clients edit shows in the panel's REST API: an empty registered model is
listed, a deleted experiment is not (issue 18)."""

from __future__ import annotations

from jupyter_mlops.client import Client


async def test_empty_model_listed_and_deleted_experiment_hidden(api, mlops_store):
    client = Client(mlops_store.tracking_uri, mlops_store.artifact_root)
    try:
        client.registry.create_model("empty-one", description="versions later")
        gone = client.create_experiment("gone-soon")
        kept = client.create_experiment("kept")
        client.set_experiment_tag(kept.id, "team", "blue")
        for exp in ("gone-soon", "kept"):
            client.end_run(client.create_run(experiment=exp, name=f"in-{exp}").id)
        client.delete_experiment(gone.id)
    finally:
        client.writer.close()
    status, body = await api("models")
    assert status == 200
    [empty] = [m for m in body["models"] if m["name"] == "empty-one"]
    assert empty["latest_version"] is None and empty["description"] == "versions later"
    status, body = await api("experiments")
    assert status == 200
    names = {e["name"]: e for e in body["experiments"]}
    assert "gone-soon" not in names
    assert names["kept"]["tags"] == {"team": "blue"}
    assert names["kept"]["lifecycle_stage"] == "active"
    # The panel's run list leaves out the deleted experiment's run, and counts it out.
    status, body = await api("runs", params={"filter": "name like 'in-%'"})
    assert status == 200
    assert [r["name"] for r in body["runs"]] == ["in-kept"] and body["total"] == 1
