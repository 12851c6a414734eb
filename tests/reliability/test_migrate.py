"""``jupyter mlops migrate``: SQLite → SQLite/PostgreSQL and local artifacts → S3, verified.

The source is always an embedded SQLite store with a local artifact folder (what users start
with); the target database is parametrised like ``store_url`` (PostgreSQL when
``MLOPS_TEST_DB_URL`` is set, skipped locally otherwise, required in CI).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import func, select

from jupyter_mlops.cli import main


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for name in ("MLOPS_TRACKING_URI", "MLOPS_ARTIFACT_ROOT", "MLOPS_USER", "MLOPS_EXPERIMENT",
                 "MLOPS_RUN_ID", "MLOPS_PARENT_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "mlops-home"))
    monkeypatch.chdir(tmp_path)
    yield
    from jupyter_mlops.store import forget_open_stores

    forget_open_stores()


def _client(url, root):
    from jupyter_mlops.client import Client

    return Client(url, root)


def populate(url: str, root: str) -> dict:
    """A small but complete store: nested runs, metrics, params, tags, artifacts, a dataset,
    lineage, a registered model (audit log) — every kind of row and blob."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    c = _client(url, root)
    try:
        # The child is created first so its parent has a later key (the self-reference case).
        parent = c.create_run(experiment="exp", name="parent")
        child = c.create_run(experiment="exp", name="child", parent_run_id=parent.id,
                             tags={"kind": "child"})
        other = c.create_run(experiment="other", name="<b>other</b>")
        for step in range(2500):
            c.log_metric(parent.id, "loss", 1 / (step + 1), step=step)
        c.log_metrics(child.id, {"acc": 0.9, "f1": 0.8})
        c.log_params(parent.id, {"lr": 0.01, "layers": [1, 2]})
        c.set_tags(other.id, {"team": "a"})
        c.log_artifact(parent.id, {"weights": [1, 2, 3]}, name="model.json")
        c.log_artifact(child.id, b"\x00" * 70_000 + os.urandom(100), name="blob.bin")
        data = Path(root).parent / "data.csv"
        data.write_text("a,b\n1,2\n3,4\n")
        c.log_dataset(parent.id, data, name="train")
        X = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 0.9], [1.0, 0.1]])
        model = LogisticRegression().fit(X, [0, 1, 0, 1])
        c.registry.register_model(model, "clf", run=parent.id)
        for r in (parent, child, other):
            c.end_run(r.id)
        c.flush()
        digests = c.store.catalog.referenced_digests()
    finally:
        c.writer.close()
    return {"parent": parent.id, "child": child.id, "other": other.id, "digests": digests}


def counts(url: str) -> dict[str, int]:
    """Rows per table, derived tables left out (the target's triggers fill those itself)."""
    from jupyter_mlops.store.engine import read_connection
    from jupyter_mlops.store.orm import Base

    with read_connection(url) as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                for t in Base.metadata.sorted_tables if not t.info.get("derived")}


@pytest.fixture
def source(tmp_path) -> tuple[str, str, dict]:
    url, root = f"sqlite:///{tmp_path / 'src' / 'mlops.db'}", str(tmp_path / "src" / "artifacts")
    (tmp_path / "src").mkdir()
    return url, root, populate(url, root)


def test_migrate_copies_every_row_and_blob(source, target_url, tmp_path, capsys):
    url, root, made = source
    to_root = str(tmp_path / "dst-artifacts")
    before = counts(url)
    rc = main(["migrate", "--from", url, "--to", target_url, "--from-artifacts", root,
               "--to-artifacts", to_root])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "counts verified" in out and "hashes verified" in out and "rows/s" in out
    assert counts(target_url) == before == counts(url)  # the source is untouched
    assert before["metric_chunks"] > 0 and before["model_versions"] == 1

    c = _client(target_url, to_root)
    try:
        detail = c.get_run(made["child"])
        assert detail.run.parent_run_id == made["parent"]  # self-reference restored
        assert detail.run.metrics == {"acc": 0.9, "f1": 0.8}
        hist = c.metric_history(made["parent"], "loss")
        assert [p.step for p in hist] == list(range(2500))
        assert json.loads(c.read_artifact(made["parent"], "model.json")[1]) == {
            "weights": [1, 2, 3]}
        _, blob = c.read_artifact(made["child"], "blob.bin")
        assert len(blob) == 70_100
        for digest in made["digests"]:
            assert c.store.blobs.verify(digest)
        # Sequences continue after the copied ids: new rows get fresh keys, not collisions.
        run = c.create_run(experiment="after-migrate", name="new")
        c.log_artifact(run.id, b"new", name="new.bin")
        c.log_dataset(run.id, Path(root).parent / "data.csv", name="train")
        c.end_run(run.id)
        assert c.count_runs() == 4
    finally:
        c.writer.close()


def test_migrate_refuses_non_empty_target(source, target_url, tmp_path, capsys):
    url = source[0]
    assert main(["migrate", "--from", url, "--to", target_url, "-q"]) == 0
    capsys.readouterr()
    before = counts(target_url)
    rc = main(["migrate", "--from", url, "--to", target_url, "-q"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "is not empty" in err and "nothing was written" in err and "experiments (2)" in err
    assert counts(target_url) == before


def test_migrate_local_artifacts_to_s3(source, tmp_path, s3_root, s3_client, capsys):
    url, root, made = source
    target = f"sqlite:///{tmp_path / 'to-s3.db'}"
    rc = main(["migrate", "--from", url, "--to", target, "--from-artifacts", root,
               "--to-artifacts", s3_root, "-q"])
    assert rc == 0, capsys.readouterr()
    bucket, prefix = s3_root[len("s3://"):].split("/", 1)
    keys = {o["Key"].rsplit("/", 1)[-1] for o in s3_client.list_objects_v2(
        Bucket=bucket, Prefix=prefix)["Contents"]}
    assert made["digests"] <= keys
    c = _client(target, s3_root)
    try:
        assert len(c.read_artifact(made["child"], "blob.bin")[1]) == 70_100
    finally:
        c.writer.close()


def test_corrupt_source_blob_stops_the_copy(source, tmp_path, capsys):
    url, root, made = source
    from jupyter_mlops.store.blobs import BlobStore

    digest = min(made["digests"])
    path = BlobStore(root).path_of(digest)
    os.chmod(path, stat.S_IWUSR | stat.S_IRUSR)
    Path(path).write_bytes(b"tampered")
    rc = main(["migrate", "--from", url, "--to", f"sqlite:///{tmp_path / 't.db'}",
               "--from-artifacts", root, "--to-artifacts", str(tmp_path / "t-art")])
    assert rc == 2
    assert f"Artifact blob {digest}" in capsys.readouterr().err


def test_missing_source_blob_is_reported(source, tmp_path, capsys):
    url, root, made = source
    from jupyter_mlops.store.blobs import BlobStore

    digest = max(made["digests"])
    BlobStore(root).delete(digest)
    rc = main(["migrate", "--from", url, "--to", f"sqlite:///{tmp_path / 't.db'}",
               "--from-artifacts", root, "--to-artifacts", str(tmp_path / "t-art"), "-q"])
    assert rc == 1
    assert f"blob {digest} is referenced but missing at the source" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--to", "SAME"], "same store"),
    (["--to", "OTHER", "--from-artifacts", "x"], "or neither"),
])
def test_bad_arguments_are_refused(source, tmp_path, capsys, argv, message):
    url = source[0]
    argv = [a.replace("SAME", url).replace("OTHER", f"sqlite:///{tmp_path / 'o.db'}")
            for a in argv]
    assert main(["migrate", "--from", url, *argv]) == 2
    assert message in capsys.readouterr().err
