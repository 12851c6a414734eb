"""`jupyter mlops webhooks …`: add, list, deliveries and remove against a real receiver."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from jupyter_mlops.cli import main
from jupyter_mlops.cli.webhooks import EVENTS
from jupyter_mlops.client import Client
from jupyter_mlops.notify.payloads import EVENTS as COMPONENT_EVENTS
from jupyter_mlops.notify.signing import verify

from .test_webhooks import Receiver


@pytest.fixture
def uri(tmp_path):
    return f"sqlite:///{tmp_path / 'mlops.db'}"


def _cli(uri, tmp_path, *argv):
    return main(["--tracking-uri", uri, "--artifact-root", str(tmp_path / "artifacts"), *argv])


def test_the_cli_lists_every_event_the_component_sends():
    assert EVENTS == COMPONENT_EVENTS


def test_add_list_deliveries_remove(uri, tmp_path, capsys, monkeypatch):
    receiver = Receiver()
    try:
        monkeypatch.setenv("HOOK_SECRET", "from-the-environment")
        assert _cli(uri, tmp_path, "webhooks", "add", receiver.url, "--event", "run.finished",
                    "--secret-env", "HOOK_SECRET") == 0
        assert "signed" in capsys.readouterr().out
        assert _cli(uri, tmp_path, "webhooks", "list") == 0
        listed = capsys.readouterr().out
        assert receiver.url in listed and "from-the-environment" not in listed

        client = Client(uri, str(tmp_path / "artifacts"))
        run = client.create_run(name="told")
        client.end_run(run.id)
        assert client.webhooks.wait(30)
        [(headers, body)] = receiver.requests
        assert json.loads(body)["data"]["run_id"] == run.id
        assert verify("from-the-environment", headers["X-Mlops-Timestamp"], body,
                      headers["X-Mlops-Signature"])

        assert _cli(uri, tmp_path, "webhooks", "deliveries") == 0
        out = capsys.readouterr().out
        assert "run.finished" in out and "yes" in out
        assert _cli(uri, tmp_path, "webhooks", "remove", "1") == 0
        assert _cli(uri, tmp_path, "webhooks", "list") == 0
        assert "no webhooks" in capsys.readouterr().out
    finally:
        receiver.close()


@pytest.mark.parametrize("argv, says", [
    (["add", "ftp://example.com/x"], "http"),
    (["add", "https://example.com/x", "--secret-env", "MLOPS_TEST_UNSET_SECRET"], "not set"),
    (["remove", "²"], "webhook id"),
    (["remove", "99999999999999999999"], "webhook id"),
    (["deliveries", "--limit", "0"], "--limit"),
])
def test_bad_input_is_one_line_and_exit_2(uri, tmp_path, capsys, monkeypatch, argv, says):
    monkeypatch.delenv("MLOPS_TEST_UNSET_SECRET", raising=False)
    assert _cli(uri, tmp_path, "webhooks", *argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and says in err and "\n" not in err


@pytest.mark.slow  # a CLI subprocess: 17 s at load ~25
def test_secret_from_stdin_in_a_real_process(uri, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli", "--tracking-uri", uri, "--artifact-root",
         str(tmp_path / "artifacts"), "webhooks", "add", "https://hooks.example.com/x",
         "--format", "slack", "--secret-stdin"],
        input="piped-secret\n", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "slack, signed" in done.stdout
    [hook] = Client(uri, str(tmp_path / "artifacts")).webhooks.list()
    assert hook.has_secret and hook.format == "slack"
