"""AbstractCatalogStore and AbstractLineageStore contracts: artifacts, datasets, code,
environments and the lineage graph, on every backend."""

from __future__ import annotations

import threading

import pytest

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.store.catalog import CatalogStore
from jupyter_mlops.store.lineage import LineageStore
from jupyter_mlops.store.runs import RunStore

D1, D2, D3 = "1" * 64, "2" * 64, "3" * 64


@pytest.fixture
def cat(backend_url: str) -> CatalogStore:
    return CatalogStore(backend_url)


@pytest.fixture
def run_id(backend_url: str) -> str:
    return RunStore(backend_url).create_run(experiment=None, name=None, user="ada").id


def dataset(cat: CatalogStore, digest: str, name: str = "train", run_id: str | None = None):
    return cat.add_dataset_version(name, digest, source="s3://b/ü.csv", size=10, row_count=2,
                                   schema={"a": "int"}, stats={"a": {"mean": 1.5}},
                                   run_id=run_id)


# ----------------------------------------------------------------------------- artifacts
def test_an_artifact_name_is_re_pointed_not_duplicated_and_listed_by_name(cat, run_id):
    first = cat.add_artifact(run_id, "model.skops", D1, 10, "application/octet-stream")
    again = cat.add_artifact(run_id, "model.skops", D2, 20, "application/octet-stream", "model")
    assert again.id == first.id and (again.digest, again.size, again.kind) == (D2, 20, "model")
    cat.add_artifact(run_id, "données/plot 📈.png", D3, 5, "image/png")
    assert [a.name for a in cat.list_artifacts(run_id)] == sorted(
        ["model.skops", "données/plot 📈.png"])
    assert cat.get_artifact_by_id(first.id) == cat.get_artifact(run_id, "model.skops")
    assert cat.referenced_digests() >= {D2, D3} and D1 not in cat.referenced_digests()
    users = cat.digest_users([D2, D1])
    assert users[D1] == [] and users[D2] == [f"artifact 'model.skops' of run {run_id}"]
    graph = cat.lineage.graph(f"run:{run_id}")
    assert f"artifact:{first.id}" in graph.downstream()


def test_deleting_a_file_a_folder_or_everything_leaves_the_rest(cat, run_id, backend_url):
    other = RunStore(backend_url).create_run(experiment=None, name=None, user="ada").id
    names = ["data/a.csv", "data/sub/b.csv", "database.csv", "d%ta/x", "d_ta/y", "model.pkl"]
    for name in names:
        cat.add_artifact(run_id, name, D1, 1, "text/plain")
    cat.add_artifact(other, "data/a.csv", D2, 1, "text/plain")

    def left() -> list[str]:
        return [a.name for a in cat.list_artifacts(run_id)]

    assert cat.delete_artifacts(run_id, "data/") == 2  # a folder, not every name it begins
    assert left() == sorted(["database.csv", "d%ta/x", "d_ta/y", "model.pkl"])
    assert cat.delete_artifacts(run_id, "d%ta") == 1  # LIKE's wildcards are plain characters
    assert left() == sorted(["database.csv", "d_ta/y", "model.pkl"])
    assert cat.delete_artifacts(run_id, "model.pkl") == 1
    assert cat.delete_artifacts(run_id, "model.pkl") == 0  # gone already: nothing, no error
    assert cat.delete_artifacts(run_id) == 2
    assert left() == []
    assert [a.name for a in cat.list_artifacts(other)] == ["data/a.csv"]  # untouched
    assert D2 in cat.referenced_digests() and D1 not in cat.referenced_digests()
    with pytest.raises(InvalidInputError):
        cat.delete_artifacts(run_id, "bad\x00name")


def test_unknown_artifacts_are_not_found(cat, run_id):
    with pytest.raises(NotFoundError, match="no artifact named 'x'"):
        cat.get_artifact(run_id, "x")
    with pytest.raises(NotFoundError):
        cat.get_artifact_by_id(10**6)
    assert cat.list_artifacts(run_id) == []


@pytest.mark.parametrize("name", ["", "a" * 10_000, "bad\x00name"])
def test_artifact_names_are_checked_before_anything_is_written(cat, run_id, name):
    with pytest.raises(InvalidInputError):
        cat.add_artifact(run_id, name, D1, 1, "text/plain")
    assert cat.list_artifacts(run_id) == []


# ----------------------------------------------------------------------------- datasets
def test_dataset_versions_count_up_per_content_and_the_same_content_is_one_version(cat, run_id):
    v1 = dataset(cat, D1, run_id=run_id)
    assert dataset(cat, D1) == v1  # the same content: the same version
    v2 = dataset(cat, D2)
    dataset(cat, D1, name="other")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.schema == {"a": "int"} and v1.source == "s3://b/ü.csv"
    assert cat.get_dataset("train").version == 2
    assert cat.get_dataset("train", 1) == v1
    assert cat.find_dataset_version("train", D2) == v2
    assert cat.find_dataset_version("train", D3) is None
    assert [(d.name, d.version) for d in cat.list_dataset_versions()] == [
        ("other", 1), ("train", 1), ("train", 2)]
    assert [d.version for d in cat.list_dataset_versions("train")] == [1, 2]
    with pytest.raises(NotFoundError):
        cat.get_dataset("train", 3)
    with pytest.raises(NotFoundError):
        cat.get_dataset("nope")


def test_concurrent_writers_of_one_dataset_get_distinct_versions(cat, backend_url):
    digests = [str(i) * 64 for i in range(4, 9)]
    got, errors = [], []

    def add(digest):
        try:
            got.append(dataset(CatalogStore(backend_url), digest).version)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(d,)) for d in digests + digests[:2]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted({d.version for d in cat.list_dataset_versions("train")}) == [1, 2, 3, 4, 5]


def test_datasets_of_a_run_say_whether_it_used_or_made_them(cat, run_id):
    used, made = dataset(cat, D1, "in"), dataset(cat, D2, "out")
    cat.lineage.add_edge("dataset", str(used.id), "run", run_id, "input")
    cat.lineage.add_edge("run", run_id, "dataset", str(made.id), "output")
    assert [(d.name, d.role) for d in cat.datasets_of_run(run_id)] == [
        ("in", "input"), ("out", "output")]


# ----------------------------------------------------------------------------- code, env
def test_the_newest_code_snapshot_and_the_environment_of_a_run(cat, run_id):
    assert cat.code_snapshot(run_id) is None and cat.environment_of_run(run_id) is None
    cat.add_code_snapshot(run_id, D1, notebook_path="a.ipynb")
    newest = cat.add_code_snapshot(run_id, D2, notebook_path="nötebook.ipynb",
                                   git_commit="c" * 40, git_branch="main", git_dirty=True)
    assert cat.code_snapshot(run_id) == newest
    env = cat.get_or_create_environment(D3, "3.11", "linux", {"numpy": "2.0"})
    assert cat.get_or_create_environment(D3, "3.11", "linux", {"numpy": "2.0"}) == env
    cat.set_run_environment(run_id, env)
    assert cat.environment_of_run(run_id).packages == {"numpy": "2.0"}


# ----------------------------------------------------------------------------- lineage
def test_lineage_edges_are_kept_once_and_walked_both_ways_within_depth(backend_url):
    lin = LineageStore(backend_url)
    chain = ["dataset:1", "run:a", "artifact:2", "model:m"]
    for src, dst in zip(chain, chain[1:]):
        lin.add_edge(*src.split(":"), *dst.split(":"), "feeds")
        lin.add_edge(*src.split(":"), *dst.split(":"), "feeds")  # twice keeps one
    graph = lin.graph("run:a")
    assert len(graph.edges) == 3
    assert graph.upstream() == {"dataset:1"} and graph.downstream() == {"artifact:2", "model:m"}
    assert lin.graph("run:a", depth=1).downstream() == {"artifact:2"}
    assert lin.sources_of("run:a", "dataset", "feeds") == ["1"]
    assert lin.sources_of("run:a", "dataset", "other") == []
    for bad in ("run", "nope:1", "run:", "run:" + "x" * 257):
        with pytest.raises(InvalidInputError):
            lin.graph(bad)
