"""Off unless configured (and then nothing imported); a wrong setting is one line."""

from __future__ import annotations

import logging
import subprocess
import sys

from jupyter_mlops.notify import openlineage as ol


def test_off_without_configuration(lineage_client, no_openlineage_env):
    assert not ol.configured()
    assert lineage_client.lineage_events is None
    run = lineage_client.create_run(experiment="plain")
    lineage_client.end_run(run.id)
    assert lineage_client.get_run(run.id).status == "FINISHED"


def test_configured_the_clients_ways(no_openlineage_env, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "console")
    assert ol.configured()
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    assert not ol.configured()
    monkeypatch.delenv("OPENLINEAGE_DISABLED")
    monkeypatch.delenv("OPENLINEAGE__TRANSPORT__TYPE")
    (tmp_path / "openlineage.yml").write_text("transport: {type: console}\n")
    assert ol.configured()  # the client looks in the working directory too


def test_a_tracked_run_imports_no_openlineage_when_off(subprocess_env, tmp_path):
    env = {k: v for k, v in subprocess_env.items() if not k.startswith("OPENLINEAGE")}
    env["HOME"] = str(tmp_path)
    code = ("from jupyter_mlops.client import Client\n"
            "c = Client()\n"
            "r = c.create_run(experiment='e')\n"
            "c.log_metric(r.id, 'm', 1.0)\n"
            "c.end_run(r.id)\n"
            "c.close()\n")
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")]
    assert "jupyter_mlops.client" in imported  # the check sees imports at all
    assert not [name for name in imported if name.startswith("openlineage")]


def test_a_url_that_is_not_http_is_one_line_and_lineage_stays_off(
        lineage_client, no_openlineage_env, monkeypatch, caplog):
    monkeypatch.setenv("OPENLINEAGE_URL", "ftp://lineage.example.com")
    with caplog.at_level(logging.WARNING, logger="jupyter_mlops.notify.openlineage"):
        assert lineage_client.lineage_events is None
        run = lineage_client.create_run(experiment="e")
        lineage_client.end_run(run.id)
    [record] = [r for r in caplog.records if r.name == "jupyter_mlops.notify.openlineage"]
    message = record.getMessage()
    assert "OPENLINEAGE_URL" in message and "http" in message and "\n" not in message
    assert lineage_client.get_run(run.id).status == "FINISHED"


def test_a_missing_config_file_is_named(no_openlineage_env, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENLINEAGE_CONFIG", str(tmp_path / "nope.yml"))
    try:
        ol.check_environment()
    except Exception as exc:  # noqa: BLE001 - the message is what is tested
        assert "OPENLINEAGE_CONFIG" in str(exc) and "nope.yml" in str(exc)
    else:
        raise AssertionError("a missing OPENLINEAGE_CONFIG file was accepted")


def test_without_the_package_the_extra_is_named(lineage_client, monkeypatch):
    monkeypatch.setitem(sys.modules, "openlineage.client", None)  # import fails
    try:
        ol.LineageEmitter(lineage_client)
    except Exception as exc:  # noqa: BLE001
        assert "jupyter-mlops[openlineage]" in str(exc)
    else:
        raise AssertionError("the emitter started without openlineage-python")


def test_namespace_drops_credentials():
    assert ol.namespace_of("postgresql+psycopg://me:secret@db:5432/mlops") == \
        "postgresql+psycopg://db:5432/mlops"
    assert ol.namespace_of("sqlite:////tmp/x/mlops.db") == "sqlite:////tmp/x/mlops.db"
