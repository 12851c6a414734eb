"""The reproduce gate reads the store its registry was built on, never the process default.

Issue 12 item 7: the check used to live in a module global (``gates.REPRODUCE_CHECK``) and
re-executed runs through ``fluent.get_client()``, so a Client (or server) on store X asked the
default store Y about X's runs. Here X is the test store and Y is the default a process would
resolve (no ``MLOPS_TRACKING_URI``, a project ``.mlops/`` in the working directory): the gate
must answer from X, and Y must never even be opened.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from jupyter_mlops.errors import ConflictError

PACKAGE = Path(__file__).resolve().parents[2] / "jupyter_mlops"


@pytest.fixture
def default_elsewhere(monkeypatch, tmp_path) -> list[Path]:
    """Make the process default a different store Y; return the files Y would be created as."""
    from jupyter_mlops import fluent

    for name in ("MLOPS_TRACKING_URI", "MLOPS_ARTIFACT_ROOT"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home-y"
    monkeypatch.setenv("MLOPS_HOME", str(home))
    project = tmp_path / "project-y"
    (project / ".mlops").mkdir(parents=True)
    monkeypatch.chdir(project)
    fluent.set_client(None)  # the `client` fixture made X the default; undo that
    return [project / ".mlops" / "mlops.db", home / "mlops.db"]


def _version_with_changed_input(client, pipeline, tmp_path):
    """Model ``m`` v1 from a run whose input file has changed since; reproduce-gated."""
    data = tmp_path / "train.csv"
    data.write_text("x,y\n1,0\n2,1\n")
    run = client.create_run(experiment="gate")
    client.log_dataset(run.id, data, name="train")
    client.log_metric(run.id, "acc", 0.9)
    client.end_run(run.id)
    reg = client.registry
    version = reg.register_model(pipeline, "m", run=run.id)
    reg.set_gate_policy("m", {"require_reproduced": True})
    data.write_text("x,y\n1,0\n2,1\n3,1\n")  # a different size: no cache can miss it
    return reg, version


def test_the_gate_reads_the_clients_store_not_the_default(client, pipeline, tmp_path,
                                                          default_elsewhere):
    reg, version = _version_with_changed_input(client, pipeline, tmp_path)
    with pytest.raises(ConflictError, match="input data changed: train"):
        reg.set_alias("m", "champion", version.version)
    verdict = reg.alias_history("m")[-1]
    assert verdict.action == "gate_failed"
    check = verdict.details["gate"]["checks"][0]
    assert check["gate"] == "require_reproduced" and version.run_id[:12] in check["detail"]
    # The check wrote its outcome on the run in X, where the run lives ...
    assert client.get_run(version.run_id).tags["mlops.reproduce_status"] == "inputs_changed"
    # ... and the default store Y was never opened (opening creates its database file).
    assert [p for p in default_elsewhere if p.exists()] == []


def test_each_clients_registry_checks_on_its_own_store(client, pipeline, tmp_path,
                                                       default_elsewhere):
    from jupyter_mlops.client import Client

    other = Client(f"sqlite:///{tmp_path / 'other' / 'mlops.db'}", str(tmp_path / "other-art"))
    try:
        assert client.registry is client.registry  # built once per Client
        assert other.registry is not client.registry
        # A run of X is unknown to the other store's check: it fails there, not in X.
        run = client.create_run(experiment="gate")
        client.end_run(run.id)
        ok, detail = other.registry.reproduce_check(run.id)
        assert ok is False and "could not reproduce" in detail
        assert [p for p in default_elsewhere if p.exists()] == []
    finally:
        other.close()


def test_a_registry_built_without_a_check_fails_the_gate_saying_so(client, pipeline):
    from jupyter_mlops.registry.api import RegistryClient

    reg = RegistryClient(client)
    run = client.create_run(experiment="gate")
    client.end_run(run.id)
    reg.register_model(pipeline, "m", run=run.id)
    reg.set_gate_policy("m", {"require_reproduced": True})
    with pytest.raises(ConflictError, match="built without a reproduction check"):
        reg.set_alias("m", "champion", 1)


def test_no_module_global_and_no_upward_import():
    from jupyter_mlops.registry import gates

    assert not hasattr(gates, "REPRODUCE_CHECK")
    import jupyter_mlops.pipelines.reproduce as reproduce

    assert not hasattr(reproduce, "install_gate")
    checked = 0
    for path in sorted((PACKAGE / "registry").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                checked += 1
                assert not name.startswith("jupyter_mlops.pipelines"), \
                    f"{path.name} imports {name}: the registry must not import pipelines"
    assert checked > 20  # the walk saw the registry's imports


def test_through_the_cli_the_gate_reads_the_store_given_on_the_command_line(
        client, pipeline, tmp_path, default_elsewhere, capsys):
    from jupyter_mlops.cli import main
    from jupyter_mlops.errors import ERROR_TABLE

    _, version = _version_with_changed_input(client, pipeline, tmp_path)
    client.flush()
    rc = main(["--tracking-uri", client.store.url, "--artifact-root", client.store.artifact_root,
               "models", "alias", "m", "champion", str(version.version)])
    err = capsys.readouterr().err
    assert rc == ERROR_TABLE[ConflictError].exit_code, err
    assert "input data changed: train" in err
    assert [p for p in default_elsewhere if p.exists()] == []
