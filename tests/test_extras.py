"""Optional features name their extra when it is missing (issue 14, the light install).

Each case runs a fresh Python process in which the extra's modules are blocked
(``sys.modules[name] = None``, so importing them raises ``ModuleNotFoundError`` exactly as
when the package is not installed), calls the feature through the door a user would, and
checks that the error names the extra and the pip command. The test environment has every
extra installed, so only blocking shows what a plain ``pip install jupyter-mlops`` does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from jupyter_mlops.errors import MissingExtraError, MlopsError
from jupyter_mlops.extras import require, require_for_url

ROOT = Path(__file__).resolve().parents[1]

#: Extra → the modules a plain install lacks (blocked together, as an absent extra would be).
EXTRAS = {
    "serve": ["uvicorn", "httptools", "uvloop"],
    "parquet": ["pyarrow", "fastparquet"],
    "postgres": ["psycopg", "psycopg2"],
    "s3": ["s3fs"],
    "dask": ["dask", "distributed"],
}

PRELUDE = """
import json, sys
for name in {blocked!r}:
    sys.modules[name] = None
from jupyter_mlops.errors import MissingExtraError
found = {{}}
def check(label, call):
    try:
        call()
    except MissingExtraError as exc:
        found[label] = {{"extra": exc.extra, "message": str(exc),
                         "import_error": isinstance(exc, ImportError)}}
    else:
        found[label] = None
"""


def run_blocked(extra: str, body: str, env: dict[str, str], cwd: Path):
    """Run ``body`` with ``extra``'s modules blocked; return the process."""
    code = PRELUDE.format(blocked=EXTRAS[extra]) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def checks(extra: str, body: str, env, cwd) -> dict:
    proc = run_blocked(extra, textwrap.dedent(body) + "\nprint(json.dumps(found))\n", env, cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_names_extra(message: str, extra: str) -> None:
    assert f"needs the '{extra}' extra" in message, message
    assert f'pip install "jupyter-mlops[{extra}]"' in message, message


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A fresh SQLite store under ``tmp_path`` for the child process, nothing inherited."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
    out.update(MLOPS_TRACKING_URI=f"sqlite:///{tmp_path / 'mlops.db'}",
               MLOPS_ARTIFACT_ROOT=str(tmp_path / "artifacts"), MLOPS_HOME=str(tmp_path / "home"),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return out


# ----------------------------------------------------------------------------- the helper
def test_require_passes_when_any_module_imports():
    require("json", extra="serve", feature="Nothing")
    require("no_such_module_xyz", "json", extra="parquet", feature="Nothing")


def test_require_names_the_extra_and_keeps_the_import_error():
    with pytest.raises(MissingExtraError) as info:
        require("no_such_module_xyz", extra="serve", feature="The model server")
    exc = info.value
    assert str(exc).startswith(
        "The model server needs the 'serve' extra: pip install \"jupyter-mlops[serve]\"")
    assert "no_such_module_xyz" in str(exc)  # which import failed, missing or broken
    assert exc.extra == "serve"
    assert isinstance(exc, ImportError) and isinstance(exc, MlopsError)
    assert isinstance(exc.__cause__, ModuleNotFoundError)


def test_missing_extra_maps_to_501_and_exit_2():
    from jupyter_mlops import errors

    exc = MissingExtraError("x", extra="dask")
    assert errors.http_status_for(exc) == 501  # this server lacks the feature
    assert errors.exit_code_for(exc) == errors.EXIT_ERROR  # a refusal, not a failed run


def test_urls_without_an_extra_pass(tmp_path):
    for url in (f"sqlite:///{tmp_path}/x.db", str(tmp_path), f"file://{tmp_path}",
                "memory://bucket/x", "postgresql+psycopg://u@h/db", "s3://bucket/prefix"):
        require_for_url(url)  # the test environment has every extra


def test_every_extra_is_declared_and_kept_out_of_the_core():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    core = " ".join(project["dependencies"]).lower()
    for extra in EXTRAS:
        assert extras.get(extra), f"pyproject.toml has no {extra!r} extra"
        for req in extras[extra]:
            name = req.split(";")[0].split("[")[0].split(">")[0].split("=")[0].strip().lower()
            assert name not in core, f"{name} is in the core dependencies and the {extra} extra"
    for bundle in ("all", "test"):
        selfref = [r for r in extras[bundle] if r.startswith("jupyter-mlops[")]
        assert selfref, f"the {bundle} extra does not pull the feature extras"
        assert set(selfref[0][len("jupyter-mlops["):-1].split(",")) >= set(EXTRAS), bundle


# ----------------------------------------------------------------------- each entry point
@pytest.mark.slow  # a subprocess imports every module with the extras blocked: 54 s at load ~25
def test_the_whole_package_imports_without_any_extra(env, tmp_path):
    """Nothing core needs an extra: every module imports with all of them blocked."""
    blocked = [m for mods in EXTRAS.values() for m in mods]
    code = f"""
import importlib, pkgutil, sys
for name in {blocked!r}:
    sys.modules[name] = None
import jupyter_mlops
bad = []
for mod in pkgutil.walk_packages(jupyter_mlops.__path__, "jupyter_mlops."):
    if ".migrations" in mod.name:  # alembic scripts, loaded by alembic only
        continue
    try:
        importlib.import_module(mod.name)
    except Exception as exc:
        bad.append(f"{{mod.name}}: {{exc!r}}")
print("\\n".join(bad))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", proc.stdout


@pytest.mark.slow  # a subprocess: 17 s at load ~25
def test_serve_command_names_the_serve_extra(env, tmp_path):
    proc = run_blocked("serve", """
        from jupyter_mlops.cli import main
        sys.exit(main(["serve", "models:/churn@champion", "--port", "0"]))
    """, env, tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    # serve names its store first (issue 15); the error is the last line, and only one.
    *before, message = proc.stderr.strip().splitlines()
    assert all(line.startswith("jupyter mlops serve: store ") for line in before), before
    assert message.startswith("error: The model server"), message
    assert_names_extra(message, "serve")
    assert "Traceback" not in proc.stderr


@pytest.mark.slow  # subprocesses: 23 s at load ~25
def test_parquet_entry_points_name_the_parquet_extra(env, tmp_path):
    (tmp_path / "table.parquet").write_bytes(b"PAR1 not read: the check comes first")
    found = checks("parquet", """
        import pandas as pd
        from jupyter_mlops.client import Client
        from jupyter_mlops.monitoring.monitor import monitor

        frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 0.1, 0.2]})
        client = Client()
        run = client.create_run(experiment="extras")
        check("artifact", lambda: client.log_artifact(run.id, frame, "frame"))
        check("dataset", lambda: client.log_dataset(run.id, "table.parquet", "tbl"))
        # A DataFrame as CSV needs no extra: the message's own advice works.
        client.log_artifact(run.id, frame, "frame.csv")
        check("keep_rows", lambda: monitor("models:/m@champion", frame, name="m",
                                           keep_rows=True, client=client))
    """, env, tmp_path)
    for label in ("artifact", "dataset", "keep_rows"):
        assert found[label] is not None, f"{label}: no MissingExtraError"
        assert found[label]["extra"] == "parquet" and found[label]["import_error"]
        assert_names_extra(found[label]["message"], "parquet")
    assert "name it .csv" in found["artifact"]["message"]


def test_postgres_url_names_the_postgres_extra(env, tmp_path):
    env = {**env, "MLOPS_TRACKING_URI": "postgresql+psycopg://nobody@127.0.0.1:9/none"}
    proc = run_blocked("postgres", """
        from jupyter_mlops.cli import main
        sys.exit(main(["runs", "list"]))
    """, env, tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: A PostgreSQL store"), proc.stderr
    assert_names_extra(proc.stderr, "postgres")


def test_s3_root_names_the_s3_extra(env, tmp_path):
    found = checks("s3", """
        from jupyter_mlops.client import Client
        from jupyter_mlops.store.blobs import BlobStore

        check("blobs", lambda: BlobStore("s3://bucket/prefix"))
        check("client", lambda: Client(artifact_root="s3://bucket/prefix").store.blobs)
    """, env, tmp_path)
    for label in ("blobs", "client"):
        assert found[label] is not None, f"{label}: no MissingExtraError"
        assert found[label]["extra"] == "s3"
        assert_names_extra(found[label]["message"], "s3")


def test_dask_executor_names_the_dask_extra(env, tmp_path):
    found = checks("dask", """
        from jupyter_mlops.pipelines.executors import make_executor

        check("local", lambda: make_executor("dask"))
        check("scheduler", lambda: make_executor("tcp://127.0.0.1:8786"))
    """, env, tmp_path)
    for label in ("local", "scheduler"):
        assert found[label] is not None, f"{label}: no MissingExtraError"
        assert found[label]["extra"] == "dask"
        assert_names_extra(found[label]["message"], "dask")
