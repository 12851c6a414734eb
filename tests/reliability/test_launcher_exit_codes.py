"""The background launchers end with the exit code of errors.ERROR_TABLE, like the CLI.

They used to return 2 by hand for every MlopsError, so a pipeline whose step failed (the work
ran and failed: 1 for `jupyter mlops`) looked like a refused command to whoever started it.
"""

from __future__ import annotations

import pytest

from jupyter_mlops.errors import (
    EXIT_ERROR,
    EXIT_FAILED,
    InvalidInputError,
    StepExecutionError,
    exit_code_for,
)
from jupyter_mlops.cli import launch
from jupyter_mlops.serving import __main__ as serving_main
from tests.reliability.faults import record


@pytest.mark.parametrize("error, code", [
    (StepExecutionError("step 'train' failed (cell 3)", step="train"), EXIT_FAILED),
    (InvalidInputError("the pipeline file is not valid"), EXIT_ERROR),
])
def test_schedule_launcher_exit_code_comes_from_the_table(client, monkeypatch, capsys,
                                                          error, code):
    from jupyter_mlops.pipelines import runner

    sched = client.stores.pipelines.add_schedule(
        name="nightly", pipeline_path="pipeline.yaml", cron="0 3 * * *", timezone="UTC",
        parameters={}, created_by="test", next_fire_at=None)

    def refuse(*args, **kwargs):
        raise error

    monkeypatch.setattr(runner, "run_pipeline", refuse)
    assert launch.main(["schedule", "--schedule-id", str(sched.id), "--slot", "0"]) == code
    assert code == exit_code_for(error)
    assert "error: schedule 'nightly'" in capsys.readouterr().err
    record("launcher-exit-code", inputs=1)


def test_model_server_exit_code_comes_from_the_table(client, store_url, artifact_root, capsys):
    code = serving_main.main(["--tracking-uri", store_url, "--artifact-root", artifact_root,
                              "models:/absent@champion", "--port", "0"])
    err = capsys.readouterr().err
    assert "error: " in err and "absent" in err
    from jupyter_mlops.errors import NotFoundError

    assert code == exit_code_for(NotFoundError("x"))
