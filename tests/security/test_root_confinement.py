"""Filesystem operations never leave their root: gc, blob writes, artifact download, restore.

Every test plants canary files *outside* the root, reachable only through a symlink or a
crafted name, makes them old enough for gc to want them, runs the operation, and asserts each
canary is still there with the same bytes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import CorruptArtifactError, PathEscapeError
from jupyter_mlops.hashing import hash_bytes
from jupyter_mlops.store.blobs import STALE_AFTER_S, BlobStore
from jupyter_mlops.store.safe_paths import is_within, join_under
from tests.reliability.faults import record

OLD = time.time() - 10 * STALE_AFTER_S


def _age(path: Path) -> None:
    os.utime(path, (OLD, OLD), follow_symlinks=False)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside every root, holding canaries gc would delete if it ever reached them."""
    folder = tmp_path / "outside"
    folder.mkdir()
    for name in ("a.part", "b.part", ".mlops-x.part"):
        (folder / name).write_bytes(b"canary " + name.encode())
        _age(folder / name)
    return folder


def _canaries(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "artifacts"
    path.mkdir()
    return path


# ----------------------------------------------------------------------------- gc
def test_gc_refuses_a_tmp_folder_that_is_a_symlink_outside(root, outside):
    before = _canaries(outside)
    os.symlink(outside, root / "tmp")
    store = BlobStore(root)

    with pytest.raises(PathEscapeError, match="outside") as caught:
        store.gc(set())
    assert str(outside) in str(caught.value)
    with pytest.raises(PathEscapeError):
        store.gc(set(), dry_run=True)

    assert _canaries(outside) == before
    # Writing a blob would stage it in tmp/ too: refused, nothing lands outside.
    with pytest.raises(PathEscapeError):
        store.put_bytes(b"new data")
    record("symlink-escape", faults=1, lost=int(_canaries(outside) != before), checked=1)
    assert _canaries(outside) == before


def test_gc_refuses_a_blobs_folder_that_is_a_symlink_outside(root, outside):
    digest = hash_bytes(b"orphan")
    nested = outside / digest[:2] / digest[2:4]
    nested.mkdir(parents=True)
    (nested / digest).write_bytes(b"orphan")
    _age(nested / digest)
    before = _canaries(outside)
    os.symlink(outside, root / "blobs")

    with pytest.raises(PathEscapeError):
        BlobStore(root).gc(set(), grace_s=0)
    assert _canaries(outside) == before


def test_gc_never_enters_a_symlinked_blob_subfolder(root, outside):
    store = BlobStore(root)
    kept = store.put_bytes(b"kept").digest
    digest = hash_bytes(b"outside blob")
    (outside / digest[2:4]).mkdir()
    (outside / digest[2:4] / digest).write_bytes(b"outside blob")
    _age(outside / digest[2:4] / digest)
    before = _canaries(outside)
    os.symlink(outside, root / "blobs" / digest[:2])

    report = store.gc({kept}, grace_s=0)

    assert digest not in report.deleted and report.checked == 1
    assert _canaries(outside) == before
    assert store.get_bytes(kept) == b"kept"


def test_gc_removes_a_stale_symlink_in_tmp_but_not_its_target(root, outside):
    store = BlobStore(root)
    store.put_bytes(b"x")  # creates tmp/
    link = root / "tmp" / "stale.part"
    os.symlink(outside / "a.part", link)
    _age(link)
    dir_link = root / "tmp" / "dir.part"
    os.symlink(outside, dir_link)
    _age(dir_link)
    before = _canaries(outside)

    report = store.gc(set())

    assert set(report.temp_removed) == {"stale.part", "dir.part"}
    assert not os.path.lexists(link) and not os.path.lexists(dir_link)
    assert _canaries(outside) == before


def test_gc_deletes_a_symlinked_blob_file_as_a_link_only(root, outside):
    store = BlobStore(root)
    digest = store.put_bytes(b"real blob").digest
    key = Path(store.path_of(digest))
    os.chmod(key, 0o644)
    key.unlink()
    os.symlink(outside / "a.part", key)  # a blob path now pointing at a file elsewhere
    _age(key)
    before = _canaries(outside)

    report = store.gc({digest})  # referenced: a link at its path is no stored blob

    assert report.missing == (digest,) and report.checked == 0
    assert not store.exists(digest)
    with pytest.raises(CorruptArtifactError, match="symbolic link"):
        store.get_bytes(digest)  # never read through the link
    assert _canaries(outside) == before
    store.put_bytes(b"real blob")  # logging it again replaces the link by the blob
    assert store.get_bytes(digest) == b"real blob" and not os.path.islink(key)
    assert _canaries(outside) == before


def test_a_symlink_inside_the_root_is_followed(root):
    real = root / "tmp-real"
    real.mkdir()
    os.symlink(real, root / "tmp")
    store = BlobStore(root)
    info = store.put_bytes(b"fine")
    stale = real / "old.part"
    stale.write_bytes(b"stale")
    _age(stale)

    report = store.gc({info.digest})

    assert report.temp_removed == ("old.part",) and not stale.exists()
    assert store.get_bytes(info.digest) == b"fine"


def test_the_artifact_root_itself_may_be_a_symlink(tmp_path):
    disk = tmp_path / "big-disk"
    disk.mkdir()
    os.symlink(disk, tmp_path / "artifacts")
    store = BlobStore(tmp_path / "artifacts")
    info = store.put_bytes(b"on the other disk")
    orphan = store.put_bytes(b"orphan")

    report = store.gc({info.digest}, grace_s=0)

    assert report.deleted == (orphan.digest,)
    assert store.get_bytes(info.digest) == b"on the other disk"
    assert is_within(store.path_of(info.digest), disk)


def test_gc_through_the_client_and_cli_touches_nothing_outside(client, artifact_root, outside,
                                                                capsys):
    from jupyter_mlops.cli import main

    run = client.create_run()
    client.log_artifact(run.id, b"data", name="d.bin")
    before = _canaries(outside)
    tmp = Path(artifact_root) / "tmp"
    for leftover in tmp.iterdir():
        leftover.unlink()
    tmp.rmdir()
    os.symlink(outside, tmp)

    assert main(["gc"]) == 2
    assert "outside" in capsys.readouterr().err
    record("symlink-escape", faults=1, lost=int(_canaries(outside) != before), checked=1)
    assert _canaries(outside) == before


# ----------------------------------------------------------------------------- download
@pytest.fixture
def dest(tmp_path: Path) -> Path:
    folder = tmp_path / "work" / "dest"
    folder.mkdir(parents=True)
    return folder


def _add(client, run_id: str, name: str, data: bytes):
    info = client.store.blobs.put_bytes(data)
    return client.store.catalog.add_artifact(run_id, name, info.digest, info.size,
                                             "application/octet-stream")


def test_download_of_a_dotdot_name_stays_in_dest(client, dest, tmp_path):
    canary = tmp_path / "work" / "x"
    canary.write_bytes(b"canary")
    run = client.create_run()
    _add(client, run.id, "../x", b"evil")
    _add(client, run.id, "../../work/x", b"evil")

    for name in ("../x", "../../work/x"):
        written = client.download_artifact(run.id, name, dest)
        assert written == dest / "x" and written.read_bytes() == b"evil"
    assert canary.read_bytes() == b"canary"


@pytest.mark.parametrize("name", ["..", "a/..", "/", "."])
def test_download_refuses_names_without_a_safe_file_name(client, dest, name):
    run = client.create_run()
    _add(client, run.id, name, b"evil")
    before = sorted(dest.parent.rglob("*"))

    with pytest.raises(PathEscapeError):
        client.download_artifact(run.id, name, dest)
    assert sorted(dest.parent.rglob("*")) == before


def test_download_to_an_explicit_file_path_still_works(client, dest):
    run = client.create_run()
    client.log_artifact(run.id, b"payload", name="model.bin")
    target = dest / "renamed.bin"
    assert client.download_artifact(run.id, "model.bin", target) == target
    assert target.read_bytes() == b"payload"


def test_download_of_a_folder_artifact(client, dest, tmp_path):
    src = tmp_path / "data"
    (src / "sub").mkdir(parents=True)
    (src / "a.csv").write_text("a")
    (src / "sub" / "b.csv").write_text("b")
    run = client.create_run()
    client.log_artifact(run.id, src)

    written = client.download_artifact(run.id, "data", dest)

    assert written == dest / "data"
    assert (written / "a.csv").read_text() == "a"
    assert (written / "sub" / "b.csv").read_text() == "b"
    fresh = tmp_path / "fresh"  # a path that does not exist yet becomes the folder itself
    assert client.download_artifact(run.id, "data/", fresh) == fresh
    assert (fresh / "sub" / "b.csv").read_text() == "b"


@pytest.mark.parametrize("member", ["data/../../escape.txt", "data/sub/../../../escape.txt",
                                    "data//abs.txt", "data/C:\\\\escape.txt"])
def test_a_folder_artifact_whose_names_escape_is_refused_before_any_write(
        client, dest, tmp_path, member):
    canary = tmp_path / "work" / "escape.txt"
    canary.write_bytes(b"canary")
    run = client.create_run()
    _add(client, run.id, "data/fine.txt", b"fine")
    _add(client, run.id, member, b"evil")
    before = _canaries(tmp_path / "work")

    with pytest.raises(PathEscapeError):
        client.download_artifact(run.id, "data", dest)

    record("path-escape-download", inputs=1,
           lost=int(_canaries(tmp_path / "work") != before), checked=1)
    assert _canaries(tmp_path / "work") == before  # not even data/fine.txt was written


def test_download_refuses_a_symlink_in_dest_that_leads_outside(client, dest, outside):
    run = client.create_run()
    _add(client, run.id, "data/a.part", b"evil")
    _add(client, run.id, "b.part", b"evil")
    os.symlink(outside, dest / "data")
    os.symlink(outside / "b.part", dest / "b.part")
    before = _canaries(outside)

    with pytest.raises(PathEscapeError):
        client.download_artifact(run.id, "data", dest)
    with pytest.raises(PathEscapeError):
        client.download_artifact(run.id, "b.part", dest)
    record("symlink-escape", faults=2, lost=int(_canaries(outside) != before), checked=1)
    assert _canaries(outside) == before


def test_pipeline_cache_restore_refuses_escaping_file_names(client, tmp_path):
    from types import SimpleNamespace

    from jupyter_mlops.pipelines.recording import Recorder

    canary = tmp_path / "escape.txt"
    canary.write_bytes(b"canary")
    digest = client.store.blobs.put_bytes(b"evil").digest
    out_dir = tmp_path / "project" / "out"
    out_dir.mkdir(parents=True)
    recorder = Recorder.__new__(Recorder)  # only restore()'s file writing is exercised
    recorder.client = client
    recorder.spec = SimpleNamespace(resolve_path=lambda p: tmp_path / "project" / p)
    step = SimpleNamespace(outputs=[SimpleNamespace(name="o", path="out")])
    hit = SimpleNamespace(outputs={"o": {"files": {"../../escape.txt": digest}}})

    with pytest.raises(PathEscapeError):
        recorder.restore(step, hit)
    assert canary.read_bytes() == b"canary"


# ----------------------------------------------------------------------------- join_under
_SEGMENT = st.sampled_from(["..", ".", "", "a", "b c", "/", "\\", "C:", "~", "\x00", "é",
                            "..\\..", "link"])


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.one_of(_SEGMENT, st.text(max_size=8)), min_size=1, max_size=6),
       sep=st.sampled_from(["/", "\\"]))
def test_join_under_never_returns_a_path_outside_the_root(tmp_path, parts, sep):
    root = tmp_path / "hyp-root"
    (root / "inner").mkdir(parents=True, exist_ok=True)
    if not os.path.lexists(root / "link"):
        os.symlink(tmp_path, root / "link")  # a link leading out of the root
    name = sep.join(parts)
    try:
        path = join_under(root, name)
    except PathEscapeError:
        return
    assert is_within(path, root)
    assert os.path.commonpath([os.path.abspath(path), str(root)]) == str(root)
