"""A pipeline step's run (issue 15): the options of `%mlops start` are honoured on it, a model
it registers links to it, and it records its notebook path and git commit."""

from __future__ import annotations

import subprocess

import pytest

from jupyter_mlops.pipelines.runner import run_pipeline

from .conftest import write_notebook, write_yaml

pytestmark = pytest.mark.kernel

FIT = ("from sklearn.linear_model import LogisticRegression\n"
       "model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])")


@pytest.mark.slow
def test_step_run_options_model_link_and_code(pclient, project):
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    write_notebook(project / "train.ipynb",
                   "%load_ext jupyter_mlops",
                   "%mlops start --experiment elsewhere --name my-train -t team=ml -t stage=dev",
                   FIT,
                   "import jupyter_mlops as mlops\nmlops.log_metric('acc', 1.0)\n"
                   "mlops.register_model(model, 'clf')",
                   "%mlops model model --name clf-magic")
    # This step never starts a run: the model still links to the step's run.
    write_notebook(project / "bare.ipynb", FIT,
                   "import jupyter_mlops as mlops\nmlops.register_model(model, 'bare-clf')")
    spec = write_yaml(project / "pipeline.yaml", """
name: prov
experiment: prov-exp
steps:
  train: {notebook: train.ipynb}
  bare: {notebook: bare.ipynb}
""")
    subprocess.run(["git", "add", "."], cwd=project, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit",
                    "-q", "-m", "one"], cwd=project, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, check=True,
                          capture_output=True, text=True).stdout.strip()
    result = run_pipeline(spec, progress=False, client=pclient)
    train, bare = result.step("train"), result.step("bare")

    run = pclient.get_run(train.run_id)
    assert run.run.name == "my-train"
    assert run.run.experiment == "prov-exp"  # a step's run stays with its pipeline
    assert run.tags["team"] == "ml" and run.tags["stage"] == "dev"
    assert run.tags["mlops.requested_experiment"] == "elsewhere"
    executed = pclient.store.blobs.get_bytes(
        pclient.store.catalog.get_artifact(train.run_id, "train.executed.ipynb").digest).decode()
    assert "recorded as the tag mlops.requested_experiment" in executed  # said, not dropped

    for name, step in (("clf", train), ("clf-magic", train), ("bare-clf", bare)):
        version = pclient.registry.get_version(name, 1)
        assert version.run_id == step.run_id, name
        assert f"model:{name}/1" in pclient.lineage(f"run:{step.run_id}").downstream()

    for step, notebook in ((train, "train.ipynb"), (bare, "bare.ipynb")):
        code = pclient.get_run(step.run_id).code
        assert code.notebook_path == str((project / notebook).resolve())
        assert code.git_commit == head



def test_fluent_start_run_options_on_an_attached_run(client, monkeypatch, capsys):
    """The same rule for mlops.start_run(...) in a step (no kernel needed to show it)."""
    import jupyter_mlops as mlops
    from sklearn.linear_model import LogisticRegression

    step_run = client.create_run(experiment="pipe", name="step")
    client.flush()
    monkeypatch.setenv("MLOPS_RUN_ID", step_run.id)
    # No run started yet: the model still links to the step's run.
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    version = mlops.register_model(model, "early")
    assert version.run_id == step_run.id
    run = mlops.start_run(experiment="other", name="renamed", tags={"team": "ml"})
    try:
        assert run.id == step_run.id and run.name == "renamed"
        said = capsys.readouterr().out
        assert "stays in experiment 'pipe'" in said and "'other'" in said
        detail = client.get_run(step_run.id)
        assert detail.run.name == "renamed" and detail.run.experiment == "pipe"
        assert detail.tags["team"] == "ml" and detail.tags["mlops.requested_experiment"] == "other"
    finally:
        mlops.end_run()
