"""The one error table: every exception of the package has an HTTP status and a CLI exit code.

``jupyter_mlops.errors.ERROR_TABLE`` is what REST handlers (``server/base.py``) and the CLI
(``cli.main``) read. Every module of the package is imported so that subclasses defined
outside ``errors.py`` are found too; each must resolve to an entry of the table (the bare
``MlopsError`` deliberately has none). The REST half of "a front door answers with the
mapped values" is ``tests/server/test_error_table.py`` (it needs the jupyter_server fixtures
loaded there); the CLI half is here.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jupyter_mlops
from jupyter_mlops import errors
from jupyter_mlops.errors import (
    ERROR_TABLE,
    UNMAPPED,
    CorruptArtifactError,
    MlopsError,
    NotFoundError,
    StepExecutionError,
    exit_code_for,
    http_status_for,
    mapping_for,
)

#: Alembic's migration scripts run migrations when imported: they are not library modules.
_NOT_LIBRARY = ("jupyter_mlops.store.migrations",)


def _all_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(jupyter_mlops.__path__, "jupyter_mlops.",
                                      onerror=lambda name: names.append(name)):
        if not info.name.startswith(_NOT_LIBRARY):
            names.append(info.name)
    return sorted(set(names))


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found.add(sub)
        found |= _subclasses(sub)
    return found


@pytest.fixture(scope="module")
def every_error() -> list[type[MlopsError]]:
    for name in _all_modules():
        importlib.import_module(name)  # an import error here is a broken module: fail
    return sorted((c for c in _subclasses(MlopsError)
                   if c.__module__.startswith("jupyter_mlops")), key=lambda c: c.__qualname__)


@pytest.mark.slow  # imports every module of the package (sklearn, pandas, papermill, …)
def test_every_error_in_the_package_has_a_status_and_an_exit_code(every_error):
    assert len(every_error) >= len(ERROR_TABLE)  # the walk saw at least the table's classes
    unmapped = [f"{c.__module__}.{c.__qualname__}" for c in every_error
                if mapping_for(c) is UNMAPPED]
    assert unmapped == [], ("place these in jupyter_mlops.errors.ERROR_TABLE "
                            "(or derive them from a listed class)")
    for cls in every_error:
        status, code = mapping_for(cls)
        assert 400 <= status <= 599, cls
        assert code in (errors.EXIT_FAILED, errors.EXIT_ERROR, errors.EXIT_GATE_FAILED), cls


def test_the_table_is_the_one_source():
    assert MlopsError not in ERROR_TABLE  # a new direct subclass cannot slip through as 500
    for cls, (status, code) in ERROR_TABLE.items():
        assert issubclass(cls, MlopsError)
        exc = cls.__new__(cls)  # no __init__: some take keyword-only fields
        assert (http_status_for(exc), exit_code_for(exc)) == (status, code)


def test_statuses_say_whose_fault_it_is():
    # A failed step is the user's notebook failing, not a server fault.
    assert http_status_for(StepExecutionError("boom", step="train")) in (409, 422)
    # Damaged stored data is the server's integrity failure, not a malformed request.
    assert http_status_for(CorruptArtifactError("blob x is corrupt")) >= 500
    assert exit_code_for(StepExecutionError("boom")) == errors.EXIT_FAILED
    assert exit_code_for(NotFoundError("no run")) == errors.EXIT_ERROR


def test_a_direct_subclass_outside_the_table_is_unmapped():
    class Stray(MlopsError):
        pass

    assert mapping_for(Stray) is UNMAPPED and http_status_for(Stray()) == 500
    assert mapping_for(ValueError) is UNMAPPED  # not ours at all


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(sorted(ERROR_TABLE, key=lambda c: c.__qualname__)),
       depth=st.integers(min_value=1, max_value=5), mixin=st.sampled_from(
           [None, KeyError, RuntimeError, OSError]))
def test_a_subclass_inherits_its_nearest_listed_class(base, depth, mixin):
    cls = base
    for i in range(depth):
        bases = (cls,) if mixin is None or i else (cls, mixin)
        try:
            cls = type(f"Sub{i}", bases, {})
        except TypeError:  # an impossible layout (e.g. two built-in bases): plain subclass
            cls = type(f"Sub{i}", (cls,), {})
    assert mapping_for(cls) == ERROR_TABLE[base]


def test_the_cli_exits_with_the_mapped_code(tmp_path, monkeypatch, capsys):
    from jupyter_mlops.cli import main

    for name in ("MLOPS_TRACKING_URI", "MLOPS_ARTIFACT_ROOT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'store' / 'mlops.db'}"
    try:
        # NotFoundError: a run that does not exist.
        rc = main(["--tracking-uri", url, "runs", "show", "0" * 32])
        err = capsys.readouterr().err
        assert rc == ERROR_TABLE[NotFoundError].exit_code and err.startswith("error: "), err
        # NotFoundError again, from another command group: migrate from a missing file.
        rc = main(["migrate", "--from", f"sqlite:///{tmp_path / 'nope.db'}", "--to", url])
        err = capsys.readouterr().err
        assert rc == exit_code_for(NotFoundError("")) and "does not exist" in err, err
    finally:
        from jupyter_mlops.store import forget_open_stores

        forget_open_stores()


def test_the_cli_exits_1_for_a_failed_step(monkeypatch, capsys):
    from jupyter_mlops import cli

    def failing(args):
        raise StepExecutionError("step 'train' failed: ValueError (cell 3)", step="train")

    monkeypatch.setitem(cli.COMMANDS, ("env", None), failing)
    rc = cli.main(["env"])
    assert rc == ERROR_TABLE[StepExecutionError].exit_code == 1
    assert capsys.readouterr().err == "error: step 'train' failed: ValueError (cell 3)\n"


def test_the_filter_warning_is_exported_from_the_package_root():
    from jupyter_mlops.errors import UnknownFilterKeyWarning

    assert jupyter_mlops.UnknownFilterKeyWarning is UnknownFilterKeyWarning
    assert "UnknownFilterKeyWarning" in jupyter_mlops.__all__
    assert "UnknownFilterKeyWarning" in dir(jupyter_mlops)
