"""Fixtures for hostile-input tests: the ``%mlops`` magics in a bare IPython shell."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _in_tmp_path(monkeypatch, tmp_path):
    # The store looks for a project's .mlops/ from the working directory: never the real one.
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _no_active_run():
    """The shell is shared by the session; a run started by one test must not leak into the
    next test's (different) store."""
    from jupyter_mlops import fluent

    fluent._set_active(None)
    yield
    fluent._set_active(None)


@pytest.fixture(scope="session")
def shell():
    """A bare (kernel-less) InteractiveShell with the ``%mlops`` magics registered."""
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_mlops.notebook.magics import MlopsMagics

    sh = InteractiveShell.instance()
    sh.register_magics(MlopsMagics)
    return sh


@pytest.fixture(scope="session")
def magics(shell):
    return shell.magics_manager.registry["MlopsMagics"]
