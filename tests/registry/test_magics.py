"""``%mlops model|models|load`` through add_parsers/handle, in a real IPython shell."""

from __future__ import annotations

import argparse
import shlex

import numpy as np
import pytest
from IPython.core.error import UsageError

from jupyter_mlops.notebook import models_magics as magics
from jupyter_mlops.notebook.subcommands import Subcommands


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.instance()


@pytest.fixture
def mlops(client, shell):
    """Run ``%mlops <line>`` the way notebook/magics.py will: parse, then handle."""
    from jupyter_mlops.notebook.magics import _SubParser

    parser = argparse.ArgumentParser(prog="%mlops")
    sub = Subcommands(parser.add_subparsers(dest="command", parser_class=_SubParser))
    magics.add_parsers(sub)

    def run(line: str):
        args = parser.parse_args(shlex.split(line))
        assert args.command in magics.COMMANDS
        return magics.handle(args.command, args, shell)

    return run


def test_model_registers_a_variable_with_an_alias(mlops, shell, pipeline, data, capsys):
    import jupyter_mlops as mlops_api

    X, _ = data
    shell.user_ns.update(clf=pipeline, X=X)
    run = mlops_api.start_run()
    mlops("model clf --name cancer --alias challenger --input-example X -d 'first try'")
    out = capsys.readouterr().out
    assert "Registered 'cancer' version 1 from run" in out and "challenger" in out
    mlops("load cancer@challenger loaded")
    assert "matched its hash" in capsys.readouterr().out
    loaded = shell.user_ns["loaded"]
    assert loaded.version.run_id == run.id
    np.testing.assert_array_equal(loaded.predict(X), pipeline.predict(X))
    mlops_api.end_run()


def test_models_lists_models_and_versions(mlops, shell, pipeline, capsys):
    mlops("models")
    assert "No models registered yet" in capsys.readouterr().out
    shell.user_ns["clf"] = pipeline
    mlops("model clf --name a --no-run")
    mlops("model clf --name a --no-run")
    capsys.readouterr()
    mlops("models")
    out = capsys.readouterr().out
    assert "a" in out and "latest" in out
    mlops("models a")
    out = capsys.readouterr().out
    assert "sklearn.pipeline.Pipeline" in out and "version" in out


def test_load_by_version_number_and_uri(mlops, shell, pipeline):
    shell.user_ns["clf"] = pipeline
    mlops("model clf --name a --no-run")
    mlops("load a/1 one")
    mlops("load models:/a/latest two")
    assert shell.user_ns["one"].version.digest == shell.user_ns["two"].version.digest


@pytest.mark.parametrize("line,message", [
    ("model missing --name a", "no variable 'missing'"),
    ("model clf --name a --input-example nope", "no variable 'nope'"),
    ("load a@champion 1bad", "not a valid variable name"),
])
def test_bad_input_is_a_usage_error(mlops, shell, pipeline, line, message):
    shell.user_ns["clf"] = pipeline
    with pytest.raises(UsageError, match=message):
        mlops(line)


def test_missing_required_option_is_a_usage_error(mlops):
    with pytest.raises(UsageError, match="--name"):
        mlops("model clf")


def test_registry_errors_reach_the_caller_as_mlops_errors(mlops):
    from jupyter_mlops.errors import NotFoundError

    # notebook/magics.py turns MlopsError into a one-line UsageError.
    with pytest.raises(NotFoundError):
        mlops("load nothing@champion m")
