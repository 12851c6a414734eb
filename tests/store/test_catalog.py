"""Artifacts, datasets, code snapshots, environments and lineage, on every store backend."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import blake3
import pandas as pd
import pytest

from jupyter_mlops.errors import CorruptArtifactError, InvalidInputError, NotFoundError


def digest_of(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()  # independent of the code under test


def blob_files(artifact_root: str) -> list[Path]:
    return sorted(p for p in (Path(artifact_root) / "blobs").rglob("*") if p.is_file())


# ----------------------------------------------------------------------------- artifacts
def test_file_artifact_is_stored_by_content_and_read_back(client, tmp_path, artifact_root):
    src = tmp_path / "report.txt"
    src.write_bytes(b"accuracy 0.93\n")
    run = client.create_run()

    [record] = client.log_artifact(run.id, src)

    assert (record.name, record.size, record.media_type) == ("report.txt", 14, "text/plain")
    assert record.digest == digest_of(b"accuracy 0.93\n")
    assert [p.name for p in blob_files(artifact_root)] == [record.digest]
    rec, data = client.read_artifact(run.id, "report.txt")
    assert (rec, data) == (record, b"accuracy 0.93\n")
    assert [a.name for a in client.get_run(run.id).artifacts] == ["report.txt"]

    src.write_bytes(b"changed later")  # the stored artifact is a copy, not a link
    assert client.read_artifact(run.id, "report.txt")[1] == b"accuracy 0.93\n"


def test_same_content_is_stored_once(client, tmp_path, artifact_root):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"\x00" * 1000)
    b.write_bytes(b"\x00" * 1000)
    r1, r2 = client.create_run(), client.create_run()
    [x] = client.log_artifact(r1.id, a)
    [y] = client.log_artifact(r2.id, b, name="copy.bin")
    [z] = client.log_artifact(r2.id, b"\x00" * 1000, name="from-memory.bin")
    assert x.digest == y.digest == z.digest
    assert len(blob_files(artifact_root)) == 1
    assert {a.name for a in client.list_artifacts(r2.id)} == {"copy.bin", "from-memory.bin"}


def test_relogging_a_name_repoints_it(client):
    run = client.create_run()
    client.log_artifact(run.id, {"v": 1}, name="config.json")
    client.log_artifact(run.id, {"v": 2}, name="config.json")
    [record] = client.list_artifacts(run.id)
    assert json.loads(client.read_artifact(run.id, "config.json")[1]) == {"v": 2}
    assert record.media_type == "application/json"


def test_folder_artifact_keeps_relative_names(client, tmp_path):
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"w")
    (folder / "sub" / "vocab.txt").write_bytes(b"v")
    run = client.create_run()
    records = client.log_artifact(run.id, folder)
    assert sorted(r.name for r in records) == ["model/sub/vocab.txt", "model/weights.bin"]
    assert client.read_artifact(run.id, "model/sub/vocab.txt")[1] == b"v"


def test_in_memory_objects(client):
    run = client.create_run()
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    client.log_artifact(run.id, df, name="table.csv")
    client.log_artifact(run.id, [1, 2, 3], name="list.json")
    assert client.read_artifact(run.id, "table.csv")[1].decode().splitlines() == [
        "a,b", "1,x", "2,y"]
    assert json.loads(client.read_artifact(run.id, "list.json")[1]) == [1, 2, 3]
    with pytest.raises(InvalidInputError, match="Give a name"):
        client.log_artifact(run.id, b"bytes")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        client.log_artifact(run.id, {"x": float("nan")}, name="bad.json")
    with pytest.raises(InvalidInputError, match="Cannot store a object"):
        client.log_artifact(run.id, object(), name="thing")
    with pytest.raises(NotFoundError, match="check the path"):
        client.log_artifact(run.id, "/no/such/file.txt")


def test_figure_artifact(client):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    run = client.create_run()
    record = client.log_figure(run.id, fig, "curve.png")
    plt.close(fig)
    assert (record.kind, record.media_type) == ("figure", "image/png")
    assert client.read_artifact(run.id, "curve.png")[1].startswith(b"\x89PNG")


def test_a_corrupt_blob_is_reported_never_returned(client, tmp_path, artifact_root):
    run = client.create_run()
    [record] = client.log_artifact(run.id, b"the real weights", name="model.bin")
    [blob] = blob_files(artifact_root)
    os.chmod(blob, 0o644)
    blob.write_bytes(b"the evil weights")  # same size, different content

    with pytest.raises(CorruptArtifactError, match=record.digest):
        client.read_artifact(run.id, "model.bin")
    dest = tmp_path / "out.bin"
    with pytest.raises(CorruptArtifactError):
        client.download_artifact(run.id, "model.bin", dest)
    assert not dest.exists()

    # gc reports and removes the corrupt blob; logging the content again then repairs it.
    report = client.gc().blobs
    assert report.corrupt == (record.digest,)
    client.log_artifact(run.id, b"the real weights", name="model.bin")
    assert client.read_artifact(run.id, "model.bin")[1] == b"the real weights"


def test_a_missing_blob_is_not_found(client, artifact_root):
    run = client.create_run()
    client.log_artifact(run.id, b"data", name="d.bin")
    [blob] = blob_files(artifact_root)
    os.chmod(blob, 0o644)
    blob.unlink()
    with pytest.raises(NotFoundError, match="garbage-collected"):
        client.read_artifact(run.id, "d.bin")


def test_download_artifact(client, tmp_path):
    run = client.create_run()
    client.log_artifact(run.id, b"payload", name="dir/data.bin")
    out = tmp_path / "out"
    out.mkdir()
    path = client.download_artifact(run.id, "dir/data.bin", out)
    assert path == out / "data.bin" and path.read_bytes() == b"payload"


def test_an_artifact_name_is_only_a_label(client, tmp_path, artifact_root):
    run = client.create_run()
    name = "../../../escaped.txt"
    client.log_artifact(run.id, b"x", name=name)
    assert client.read_artifact(run.id, name)[1] == b"x"
    assert not any(p.name == "escaped.txt" for p in tmp_path.parent.rglob("escaped.txt"))
    assert all(p.parent.parent.parent.parent == Path(artifact_root)
               for p in blob_files(artifact_root))
    for bad in ("", "a\x00b", "line\nbreak", "x" * 1025):
        with pytest.raises(InvalidInputError):
            client.log_artifact(run.id, b"x", name=bad)


def test_unknown_artifact(client):
    run = client.create_run()
    with pytest.raises(NotFoundError, match="no artifact named 'nope'"):
        client.read_artifact(run.id, "nope")


# ----------------------------------------------------------------------------- datasets
def write_csv(path: Path, rows: list[tuple[int, float]]) -> Path:
    path.write_text("id,score\n" + "".join(f"{i},{s}\n" for i, s in rows))
    return path


def test_dataset_versions_advance_only_when_content_changes(client, tmp_path):
    run = client.create_run()
    data = write_csv(tmp_path / "train.csv", [(1, 0.5), (2, 0.7)])

    v1 = client.log_dataset(run.id, data, "train")
    os.utime(data, (1, 1))  # touched, same content
    again = client.log_dataset(run.id, data, "train")
    copy = client.log_dataset(run.id, write_csv(tmp_path / "copy.csv", [(1, 0.5), (2, 0.7)]),
                              "train")
    write_csv(data, [(1, 0.5), (2, 0.7), (3, 0.9)])
    v2 = client.log_dataset(run.id, data, "train")
    write_csv(data, [(1, 0.5), (2, 0.7)])  # back to the first content
    back = client.log_dataset(run.id, data, "train")

    assert (v1.version, again.version, copy.version, v2.version, back.version) == (1, 1, 1, 2, 1)
    assert v1.digest == again.digest == back.digest != v2.digest
    assert [d.version for d in client.list_datasets("train")] == [1, 2]
    assert client.get_dataset("train").version == 2
    assert client.get_dataset("train", 1).digest == v1.digest


def test_known_content_is_not_read_again(client, tmp_path, monkeypatch):
    """A version with the same name and content is returned as recorded: the table is not
    parsed again (a cached pipeline step re-logs its outputs on every run)."""
    from jupyter_mlops.tracking import capture

    run = client.create_run()
    data = write_csv(tmp_path / "d.csv", [(1, 0.5), (2, 1.5)])
    first = client.log_dataset(run.id, data, "d")

    reads = []
    read_table = capture._read_table
    monkeypatch.setattr(capture, "_read_table", lambda path: reads.append(path) or
                        read_table(path))
    again = client.log_dataset(run.id, data, "d")
    assert (again.id, again.version, again.stats, again.role) == (
        first.id, 1, first.stats, "input")
    assert reads == []
    new = client.log_dataset(run.id, write_csv(tmp_path / "e.csv", [(3, 1.0)]), "d")
    assert len(reads) == 1 and new.version == 2 and new.row_count == 1  # new content: read


def test_dataset_records_schema_rows_and_stats(client, tmp_path):
    run = client.create_run()
    record = client.log_dataset(run.id, write_csv(tmp_path / "d.csv", [(1, 0.5), (2, 1.5)]), "d")
    assert record.row_count == 2
    assert record.schema == {"id": "int64", "score": "float64"}
    assert record.stats["score"]["min"] == 0.5 and record.stats["score"]["max"] == 1.5
    assert record.stats["score"]["mean"] == 1.0 and record.stats["id"]["nulls"] == 0
    assert record.source == str((tmp_path / "d.csv").resolve())
    assert record.size == (tmp_path / "d.csv").stat().st_size


def test_dataframe_datasets_version_by_content(client):
    run = client.create_run()
    df = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    a = client.log_dataset(run.id, df, "frame")
    b = client.log_dataset(run.id, df.copy(), "frame")
    c = client.log_dataset(run.id, df.assign(x=[1, 2, 4]), "frame", role="output")
    assert (a.version, b.version, c.version) == (1, 1, 2)
    assert a.row_count == 3 and a.schema == {"x": "int64", "y": str(df["y"].dtype)}
    assert a.stats["y"] == {"nulls": 0, "distinct": 3}
    assert c.role == "output"


def test_datasets_of_a_run_carry_their_role(client, tmp_path):
    run = client.create_run()
    client.log_dataset(run.id, write_csv(tmp_path / "in.csv", [(1, 0.1)]), "raw")
    client.log_dataset(run.id, write_csv(tmp_path / "out.csv", [(1, 0.2)]), "features",
                       role="output")
    assert {(d.name, d.version, d.role) for d in client.get_run(run.id).datasets} == {
        ("raw", 1, "input"), ("features", 1, "output")}


def test_dataset_errors(client, tmp_path):
    run = client.create_run()
    with pytest.raises(InvalidInputError, match="role"):
        client.log_dataset(run.id, write_csv(tmp_path / "a.csv", [(1, 1.0)]), "a", role="both")
    with pytest.raises(NotFoundError):
        client.log_dataset(run.id, tmp_path / "missing.csv", "a")
    with pytest.raises(InvalidInputError, match="path, a pandas DataFrame or a numpy array"):
        client.log_dataset(run.id, [1, 2], "a")
    with pytest.raises(NotFoundError, match="version 7 of dataset 'a'"):
        client.get_dataset("a", 7)


# ----------------------------------------------------------------------------- code snapshots
NOTEBOOK = {
    "nbformat": 4, "nbformat_minor": 5, "metadata": {},
    "cells": [{"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": [],
               "execution_count": 1, "id": "c1"}],
}


def test_notebook_snapshot_round_trips_with_its_hash(client):
    run = client.create_run()
    client.log_notebook(run.id, NOTEBOOK)
    assert client.notebook_snapshot(run.id) == NOTEBOOK
    code = client.get_run(run.id).code
    assert code.digest == digest_of(json.dumps(NOTEBOOK, sort_keys=True).encode())
    assert code.git_commit is None and code.notebook_path is None


def test_newest_snapshot_wins(client):
    run = client.create_run()
    client.log_notebook(run.id, NOTEBOOK)
    later = {**NOTEBOOK, "metadata": {"edited": True}}
    client.log_notebook(run.id, later)
    assert client.notebook_snapshot(run.id) == later


def test_snapshot_records_git_commit_and_dirty_diff(client, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args):
        return subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@e.st",
                               "-c", "user.name=T", *args], check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q", "-b", "main")
    nb = repo / "train.ipynb"
    nb.write_text(json.dumps(NOTEBOOK))
    git("add", "train.ipynb")
    git("commit", "-q", "-m", "first")
    nb.write_text(json.dumps({**NOTEBOOK, "metadata": {"edited": True}}))
    run = client.create_run()

    client.log_notebook(run.id, nb.read_bytes(), path=str(nb))

    code = client.get_run(run.id).code
    assert code.git_commit == git("rev-parse", "HEAD")
    assert code.git_branch == "main"
    assert code.git_dirty is True
    diff = client.store.blobs.get_bytes(code.git_diff_digest).decode()
    assert "train.ipynb" in diff and "edited" in diff
    assert client.notebook_snapshot(run.id)["metadata"] == {"edited": True}


def test_run_without_snapshot(client):
    run = client.create_run()
    assert client.get_run(run.id).code is None
    with pytest.raises(NotFoundError, match="no notebook snapshot"):
        client.notebook_snapshot(run.id)


# ----------------------------------------------------------------------------- environments
def test_environment_is_recorded_and_shared(client):
    r1, r2 = client.create_run(), client.create_run()
    e1, e2 = client.get_run(r1.id).environment, client.get_run(r2.id).environment
    assert e1 == e2
    assert e1.python == platform.python_version()
    assert e1.packages["sqlalchemy"] == metadata.version("sqlalchemy")
    assert len(e1.digest) == 64


# ----------------------------------------------------------------------------- lineage
def test_lineage_links_data_runs_and_artifacts(client, tmp_path):
    train = client.create_run(name="train")
    data = client.log_dataset(train.id, write_csv(tmp_path / "raw.csv", [(1, 0.1)]), "raw")
    [model] = client.log_artifact(train.id, b"weights", name="model.bin")
    evaluate = client.create_run(name="evaluate")
    client.add_lineage(f"artifact:{model.id}", f"run:{evaluate.id}", "input")
    [report] = client.log_artifact(evaluate.id, {"auc": 0.9}, name="report.json")

    graph = client.lineage(f"run:{train.id}")

    assert graph.root == f"run:{train.id}"
    assert graph.upstream() == {f"dataset:{data.id}"}
    assert graph.downstream() == {f"artifact:{model.id}", f"run:{evaluate.id}",
                                  f"artifact:{report.id}"}
    labels = {n.id: n.label for n in graph.nodes}
    assert labels[f"dataset:{data.id}"] == "raw v1"
    assert labels[f"artifact:{model.id}"] == "model.bin"
    assert labels[f"run:{evaluate.id}"] == "evaluate"
    # From the far end, the whole chain is upstream.
    assert client.lineage(report).upstream() == {
        f"run:{evaluate.id}", f"artifact:{model.id}", f"run:{train.id}", f"dataset:{data.id}"}
    # A bare run id and a record work as well as "run:<id>".
    assert client.lineage(train.id) == graph
    assert client.lineage(train) == graph


def test_lineage_depth_limits_the_walk(client):
    runs = [client.create_run(name=f"r{i}") for i in range(5)]
    for a, b in zip(runs, runs[1:]):
        client.add_lineage(f"run:{a.id}", f"run:{b.id}", "triggered")
    assert client.lineage(runs[0], depth=2).downstream() == {f"run:{runs[1].id}",
                                                             f"run:{runs[2].id}"}
    assert len(client.lineage(runs[0]).downstream()) == 4


@pytest.mark.parametrize("node", ["run:", "table:1", "dataset:", "run:" + "x" * 300])
def test_bad_lineage_nodes(client, node):
    with pytest.raises(InvalidInputError, match="Lineage nodes look like"):
        client.lineage(node)
