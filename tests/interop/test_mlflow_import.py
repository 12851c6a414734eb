"""``jupyter mlops import mlflow``: real MLflow stores (written by the real MLflow client) in,
every field compared, idempotent, resumable after SIGKILL, read-only on the source, hostile
inputs refused one by one."""

from __future__ import annotations

import hashlib
import math
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_mlops.client import Client
from jupyter_mlops.interop.mlflow_import import import_mlflow

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


def build_source(uri: str, tmp: Path, n_runs: int = 5) -> dict:
    """An MLflow store written by MLflow's own client; returns what was logged."""
    from unittest import mock

    # MLflow resolves a version's runs:/ source through its default client (./mlflow.db of
    # the working folder, the repository under pytest): point that one at the source too.
    with mock.patch.dict(os.environ, {"MLFLOW_TRACKING_URI": uri}):
        return _build_source(uri, tmp, n_runs)


def _build_source(uri: str, tmp: Path, n_runs: int) -> dict:
    from mlflow import MlflowClient

    c = MlflowClient(tracking_uri=uri)
    # A database store's default artifact root is ./mlruns of the current folder (the
    # repository, under pytest): keep the artifacts beside the source instead. A folder store
    # keeps them inside it, a server (http) its own, served through its proxy.
    local = (tmp / "mlflow-artifacts").as_uri() if "://" in uri and not uri.startswith(
        "http") else None
    exp = c.create_experiment("interop-a", artifact_location=local and f"{local}/a")
    exp_b = c.create_experiment("interop-b", artifact_location=local and f"{local}/b")
    runs = {}
    parent = c.create_run(exp, run_name="parent")
    runs[parent.info.run_id] = parent
    for i in range(n_runs):
        r = c.create_run(exp if i % 2 else exp_b, run_name=f"r{i}",
                         tags={"team": "x", "mlflow.parentRunId": parent.info.run_id})
        rid = r.info.run_id
        c.log_param(rid, "lr", str(0.1 * (i + 1)))
        for step in range(20):
            c.log_metric(rid, "loss", 1.0 / (step + 1), step=step, timestamp=1_700_000_000_000 + step)
        c.log_metric(rid, "odd", float("nan"), step=0)
        c.log_metric(rid, "odd", float("inf"), step=1)
        c.log_metric(rid, "odd", -1e300, step=2)
        runs[rid] = r
    first = next(iter(k for k in runs if k != parent.info.run_id))
    art = tmp / "art"
    (art / "model").mkdir(parents=True, exist_ok=True)
    (art / "model" / "model.pkl").write_bytes(b"not really a pickle")
    (art / "notes.txt").write_text("hello")
    c.log_artifacts(first, str(art))
    c.set_terminated(first, "FAILED")
    c.set_terminated(parent.info.run_id)
    gone = c.create_run(exp, run_name="deleted-one")
    c.delete_run(gone.info.run_id)
    c.create_registered_model("clf")
    v1 = c.create_model_version("clf", f"runs:/{first}/model", run_id=first)
    v2 = c.create_model_version("clf", f"runs:/{first}/model", run_id=first)
    c.set_registered_model_alias("clf", "champion", v1.version)
    c.transition_model_version_stage("clf", v2.version, "Production")
    return {"client": c, "runs": list(runs), "deleted": gone.info.run_id, "first": first}


@pytest.fixture(scope="module", params=["folder", pytest.param("sqlite", marks=pytest.mark.slow)])
def source(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param)
    uri = str(tmp / "mlruns") if request.param == "folder" else f"sqlite:///{tmp / 'mlflow.db'}"
    built = build_source(uri, tmp)
    built.update(uri=uri, root=tmp / ("mlruns" if request.param == "folder" else "mlflow.db"),
                 kind=request.param)
    return built


def ours(tmp_path: Path, name: str = "ours") -> Client:
    return Client(f"sqlite:///{tmp_path / (name + '.db')}", str(tmp_path / (name + "-art")))


def snapshot(root: Path) -> dict:
    """Bytes and mtimes of every file under root (or of root and its siblings)."""
    top = root if root.is_dir() else root.parent
    out = {}
    for p in sorted(top.rglob("*")):
        if p.is_file():
            out[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
    return out


def dump(client: Client) -> dict:
    """Everything an import writes, in a comparable form."""
    out = {}
    for r in client.search_runs(max_results=10_000, warn=False):
        hist = {k: [(p.step, repr(p.value), p.timestamp) for p in client.metric_history(r.id, k)]
                for k in sorted(r.metrics)}
        arts = sorted((a.name, a.digest) for a in client.list_artifacts(r.id))
        out[r.id] = (r.experiment, r.name, r.status, r.start_time, r.end_time, r.parent_run_id,
                     sorted(r.params.items()), sorted(r.tags.items()), hist, arts)
    return out


def test_every_field_round_trips(source, tmp_path):
    before = snapshot(source["root"])
    client = ours(tmp_path)
    report = import_mlflow(client, source["uri"], progress=False)
    assert snapshot(source["root"]) == before  # read-only: bytes and mtimes unchanged
    if source["kind"] == "sqlite":  # no -wal/-shm/-journal appeared next to the database
        assert sorted(p.name for p in source["root"].parent.iterdir()
                      if p.name.startswith("mlflow.db")) == ["mlflow.db"]
    ml = source["client"]
    assert report.runs_imported == len(source["runs"])
    assert any(source["deleted"] in n and "deleted in MLflow" in n for n in report.notes)
    for rid in source["runs"]:
        theirs = ml.get_run(rid)
        mine = client.get_run(rid)
        assert mine.name == theirs.info.run_name
        assert mine.status == theirs.info.status
        assert mine.start_time == theirs.info.start_time / 1000
        assert mine.end_time == (theirs.info.end_time / 1000 if theirs.info.end_time else None)
        assert mine.params == theirs.data.params
        assert mine.tags == theirs.data.tags
        for key in theirs.data.metrics:
            want = [(m.step, m.value, m.timestamp / 1000) for m in ml.get_metric_history(rid, key)]
            got = [(p.step, p.value, p.timestamp) for p in client.metric_history(rid, key)]
            assert len(got) == len(want)
            for (s1, v1, t1), (s2, v2, t2) in zip(sorted(got, key=lambda x: (x[0], x[2])),
                                                  sorted(want, key=lambda x: (x[0], x[2]))):
                assert (s1, t1) == (s2, t2)
                assert v1 == v2 or (math.isnan(v1) and math.isnan(v2))
        if rid != source["runs"][0]:
            assert mine.parent_run_id == source["runs"][0]
    first = source["first"]
    names = {a.name for a in client.list_artifacts(first)}
    assert names == {"model/model.pkl", "notes.txt"}
    assert client.read_artifact(first, "notes.txt")[1] == b"hello"
    versions = client.stores.registry.list_versions("clf") if hasattr(
        client, "stores") else client.registry.list_versions("clf")
    assert [(v.version, v.run_id) for v in versions] == [(1, first), (2, first)]
    aliases = {a: v.version for v in versions for a in v.aliases}
    assert aliases == {"champion": 1, "production": 2}


def test_a_second_import_adds_nothing_and_says_so(source, tmp_path):
    client = ours(tmp_path)
    import_mlflow(client, source["uri"], progress=False)
    first = dump(client)
    again = import_mlflow(client, source["uri"], progress=False)
    assert again.added_nothing and again.runs_imported == 0 and again.versions_imported == 0
    assert "nothing new" in again.summary()
    assert dump(client) == first


KILLER = """
import os, signal, sys
from jupyter_mlops.client import Client
from jupyter_mlops.interop.mlflow_import import import_mlflow
def stop(n):
    if n >= 2:
        os.kill(os.getpid(), signal.SIGKILL)
import_mlflow(Client(sys.argv[1], sys.argv[2]), sys.argv[3], progress=False, batch_runs=2,
              on_batch=stop)
"""


@pytest.mark.slow
def test_resume_after_sigkill_gives_the_same_store_as_one_clean_import(source, tmp_path):
    url, art = f"sqlite:///{tmp_path / 'killed.db'}", str(tmp_path / "killed-art")
    proc = subprocess.run([sys.executable, "-c", KILLER, url, art, source["uri"]],
                          capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    killed = Client(url, art)
    partial = dump(killed)
    assert 0 < len(partial) < len(source["runs"])  # stopped half-way, only whole runs
    report = import_mlflow(killed, source["uri"], progress=False)
    assert report.runs_present == len(partial)
    clean = ours(tmp_path, "clean")
    import_mlflow(clean, source["uri"], progress=False)
    assert dump(killed) == dump(clean)


def test_migrate_points_to_the_importer_without_writing(source, tmp_path):
    if source["kind"] != "sqlite":
        pytest.skip("migrate reads databases")
    before = snapshot(source["root"])
    proc = subprocess.run([sys.executable, "-m", "jupyter_mlops.cli", "migrate", "--from",
                           source["uri"], "--to", f"sqlite:///{tmp_path / 't.db'}"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"jupyter mlops import mlflow '{source['uri']}'" in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert snapshot(source["root"]) == before


# ---------------------------------------------------------------------- hostile inputs
@pytest.mark.slow
def test_hostile_database_values_are_skipped_one_by_one(tmp_path):
    db = tmp_path / "mlflow.db"
    built = build_source(f"sqlite:///{db}", tmp_path, n_runs=2)
    rid = built["first"]
    con = sqlite3.connect(db)
    with con:
        con.execute("INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) "
                    "VALUES ('../evil', 1.0, 1, 0, 0, ?)", (rid,))
        con.execute("INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) "
                    "VALUES ('bad\x07key', 1.0, 1, 0, 0, ?)", (rid,))
        con.execute("INSERT INTO params (key, value, run_uuid) VALUES ('huge', ?, ?)",
                    ("x" * 7000, rid))
        con.execute("INSERT INTO tags (key, value, run_uuid) VALUES ('nul', ?, ?)",
                    ("a\x00b", rid))
        con.execute("INSERT INTO tags (key, value, run_uuid) VALUES ('latin1', CAST(? AS TEXT), ?)",
                    (b"caf\xe9", rid))
        con.execute("UPDATE runs SET artifact_uri = 's3://bucket/x' WHERE run_uuid = ?", (rid,))
    con.close()
    client = ours(tmp_path)
    report = import_mlflow(client, f"sqlite:///{db}", progress=False)
    text = "\n".join(report.notes)
    assert "'../evil'" in text and "'..'" in text
    assert "control characters" in text
    assert "7000 characters" in text and "NUL" in text
    assert "s3://bucket/x" in text  # artifacts not local: said, not fatal
    run = client.get_run(rid)
    assert "../evil" not in run.metrics and "huge" not in run.params and "nul" not in run.tags
    assert run.tags["latin1"] == "caf\ufffd"
    assert run.params["lr"] and "loss" in run.metrics  # the rest of the run is there
    assert report.runs_imported == len(built["runs"])


def test_hostile_folder_escaping_artifact_and_bad_utf8(tmp_path):
    root = tmp_path / "mlruns"
    built = build_source(str(root), tmp_path, n_runs=2)
    rid = built["first"]
    run_dir = next(root.glob(f"*/{rid}"))
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    (run_dir / "artifacts" / "leak.txt").symlink_to(secret)
    (run_dir / "tags" / "raw").write_bytes(b"\xff\xfe bytes")
    (run_dir / "metrics" / "loss").open("a").write("garbage line\n")
    client = ours(tmp_path)
    report = import_mlflow(client, str(root), progress=False)
    text = "\n".join(report.notes)
    assert "'leak.txt'" in text and "outside the run's artifact root; refused" in text
    assert "not valid UTF-8" in text and "unreadable line" in text
    assert "leak.txt" not in {a.name for a in client.list_artifacts(rid)}
    assert "notes.txt" in {a.name for a in client.list_artifacts(rid)}
    assert report.runs_imported == len(built["runs"])


def test_not_an_mlflow_source_is_one_clear_error(tmp_path):
    from jupyter_mlops.errors import InvalidInputError, NotFoundError

    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="not an MLflow mlruns folder"):
        import_mlflow(ours(tmp_path), str(tmp_path / "empty"), progress=False)
    with pytest.raises(NotFoundError, match="does not exist"):
        import_mlflow(ours(tmp_path), str(tmp_path / "nope"), progress=False)
    store = ours(tmp_path, "a-store")
    store.create_experiment("x")
    with pytest.raises(InvalidInputError, match="not an MLflow tracking database"):
        import_mlflow(ours(tmp_path), f"sqlite:///{tmp_path / 'a-store.db'}", progress=False)


@pytest.mark.slow
def test_export_then_import_round_trip(source, tmp_path, monkeypatch):
    client = ours(tmp_path)
    import_mlflow(client, source["uri"], progress=False)
    from jupyter_mlops.interop.mlflow_export import export_mlflow

    dest = str(tmp_path / "exported")
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    report = export_mlflow(client, dest, progress=False)
    assert list(workdir.iterdir()) == []  # nothing of MLflow's lands in the working folder
    assert report.runs_exported == len(source["runs"])
    assert export_mlflow(client, dest, progress=False).runs_exported == 0  # idempotent
    back = import_mlflow(client, dest, progress=False)  # into the same store: itself
    assert back.runs_imported == 0 and back.runs_present == len(source["runs"])
    other = ours(tmp_path, "other")
    import_mlflow(other, dest, progress=False)
    a, b = dump(client), dump(other)
    strip = lambda d: sorted(  # noqa: E731 - new MLflow ids; compare what the runs hold
        (v[1], v[2], v[3], v[4], v[6], [t for t in v[7] if not t[0].startswith(
            ("jupyter_mlops.", "mlflow.parentRunId"))], v[8], [x[0] for x in v[9]])
        for v in d.values())
    assert strip(a) == strip(b)


def test_runs_of_an_experiment_deleted_here_are_not_imported(source, tmp_path):
    client = ours(tmp_path)
    gone = client.create_experiment("interop-a")
    client.delete_experiment(gone.id)
    report = import_mlflow(client, source["uri"], progress=False)
    skipped = [n for n in report.notes if "'interop-a' is deleted in this store" in n]
    assert skipped and report.runs_imported == len(source["runs"]) - len(skipped)
    assert {r.experiment for r in client.search_runs(max_results=100, warn=False)} == {
        "interop-b"}
