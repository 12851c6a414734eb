"""Tests for the content-addressed blob store (local folder and fsspec ``memory://``)."""

from __future__ import annotations

import io
import os
import stat
import time
import uuid

import blake3
import pytest

from jupyter_mlops.errors import CorruptArtifactError, InvalidInputError, NotFoundError
from jupyter_mlops.hashing import CHUNK_SIZE
from jupyter_mlops.store.blobs import STALE_AFTER_S, BlobInfo, BlobStore

OLD = time.time() - 3 * STALE_AFTER_S


def ref_digest(data: bytes) -> str:
    # Computed independently of the code under test.
    return blake3.blake3(data).hexdigest()


def blob_files(root) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, f), root)
        for d, _, files in os.walk(os.path.join(root, "blobs"))
        for f in files
    )


def temp_files(root) -> list[str]:
    tmp = os.path.join(root, "tmp")
    return os.listdir(tmp) if os.path.isdir(tmp) else []


def corrupt_local(store: BlobStore, digest: str) -> None:
    path = store.path_of(digest)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    with open(path, "r+b") as f:
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 0xFF]))  # same size, different content


def age(path: str) -> None:
    os.utime(path, (OLD, OLD))


@pytest.fixture
def root(tmp_path):
    return str(tmp_path / "artifacts")


@pytest.fixture
def store(root):
    return BlobStore(root)


@pytest.fixture
def mem_store():
    import fsspec

    name = uuid.uuid4().hex
    yield BlobStore(f"memory://{name}/prefix")
    fs = fsspec.filesystem("memory")
    if fs.exists(f"/{name}"):
        fs.rm(f"/{name}", recursive=True)


class FailingStream(io.RawIOBase):
    """Yields one chunk, then fails the way a dropped connection or Ctrl-C would."""

    def __init__(self, error: BaseException):
        self.calls = 0
        self.error = error

    def readable(self) -> bool:
        return True

    def read(self, size=-1):
        self.calls += 1
        if self.calls == 1:
            return b"x" * 1000
        raise self.error


# -- round trips -------------------------------------------------------------------------------


def test_put_bytes_round_trip_and_layout(store, root):
    data = b"model weights \x00\x01"
    info = store.put_bytes(data)
    digest = ref_digest(data)
    assert info == BlobInfo(digest, len(data))
    assert store.get_bytes(digest) == data
    assert store.exists(digest)
    assert store.size(digest) == len(data)
    assert store.verify(digest)
    assert store.path_of(digest) == os.path.join(root, "blobs", digest[:2], digest[2:4], digest)
    assert list(store.iter_digests()) == [digest]


def test_put_file_and_copy_to_replaces_destination(store, tmp_path):
    src = tmp_path / "model.bin"
    src.write_bytes(os.urandom(10_000))
    info = store.put_file(src)
    assert info.digest == ref_digest(src.read_bytes())
    dest = tmp_path / "out" / "nested" / "copy.bin"
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"old content")
    assert store.copy_to(info.digest, dest) == info
    assert dest.read_bytes() == src.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["copy.bin"]  # no temp left behind


def test_put_stream_hashes_across_chunks(store):
    data = os.urandom(2 * CHUNK_SIZE + 123)
    info = store.put_stream(io.BytesIO(data))
    assert info == BlobInfo(ref_digest(data), len(data))
    assert store.get_bytes(info.digest) == data


def test_empty_blob(store):
    info = store.put_bytes(b"")
    assert info == BlobInfo(ref_digest(b""), 0)
    assert store.get_bytes(info.digest) == b""


def test_blobs_are_read_only_on_disk(store):
    info = store.put_bytes(b"immutable")
    assert stat.S_IMODE(os.stat(store.path_of(info.digest)).st_mode) & 0o222 == 0


def test_text_stream_is_rejected(store, root):
    with pytest.raises(InvalidInputError, match="binary"):
        store.put_stream(io.StringIO("not bytes"))
    assert blob_files(root) == [] and temp_files(root) == []


def test_put_file_missing_source_or_directory(store, tmp_path):
    with pytest.raises(NotFoundError):
        store.put_file(tmp_path / "nope.bin")
    with pytest.raises(InvalidInputError, match="directory"):
        store.put_file(tmp_path)


# -- dedup -------------------------------------------------------------------------------------


def test_same_content_is_stored_once(store, root, tmp_path):
    data = b"same bytes" * 1000
    src = tmp_path / "a.bin"
    src.write_bytes(data)
    first = store.put_bytes(data)
    # A hard link pins the original inode, so "same inode afterwards" means never rewritten.
    pin = tmp_path / "pin"
    os.link(store.path_of(first.digest), pin)
    infos = {first, store.put_file(src), store.put_stream(io.BytesIO(data))}
    assert infos == {BlobInfo(ref_digest(data), len(data))}
    assert len(blob_files(root)) == 1
    assert os.path.samefile(store.path_of(first.digest), pin)
    assert temp_files(root) == []


def test_dedup_refreshes_mtime_so_gc_grace_protects_it(store):
    info = store.put_bytes(b"reused")
    age(store.path_of(info.digest))
    store.put_bytes(b"reused")
    assert time.time() - os.stat(store.path_of(info.digest)).st_mtime < STALE_AFTER_S
    assert store.gc(set()).deleted == ()


# -- corruption and bad input -------------------------------------------------------------------


def test_corrupt_blob_is_never_returned(store, tmp_path):
    data = b"precious" * 100
    digest = store.put_bytes(data).digest
    corrupt_local(store, digest)
    with pytest.raises(CorruptArtifactError) as err:
        store.get_bytes(digest)
    assert digest in str(err.value) and "jupyter mlops gc" in str(err.value)
    assert store.verify(digest) is False
    dest = tmp_path / "dest.bin"
    dest.write_bytes(b"keep me")
    with pytest.raises(CorruptArtifactError):
        store.copy_to(digest, dest)
    assert dest.read_bytes() == b"keep me"
    assert sorted(os.listdir(tmp_path)) == ["artifacts", "dest.bin"]  # no temp left behind
    # The check is what stops it: unverified reads do see the damaged bytes.
    assert store.get_bytes(digest, verify=False) != data


VALID = "a" * 64
BAD_DIGESTS = [
    "../../etc/passwd",
    "..",
    ".",
    "",
    "/etc/passwd",
    "/" + "a" * 63,
    "A" * 64,
    "ABCDEF" + "a" * 58,
    "a" * 63,
    "a" * 65,
    "g" * 64,
    "a" * 64 + "\n",
    "aa/" + "a" * 61,
    "aa\\" + "a" * 61,
    None,
    123,
    b"a" * 64,
]


@pytest.mark.parametrize("digest", BAD_DIGESTS, ids=repr)
@pytest.mark.parametrize(
    "call",
    [
        lambda s, d: s.get_bytes(d),
        lambda s, d: s.exists(d),
        lambda s, d: s.size(d),
        lambda s, d: s.verify(d),
        lambda s, d: s.delete(d),
        lambda s, d: s.path_of(d),
        lambda s, d: s.copy_to(d, os.path.join(s.root, "..", "out.bin")),
        lambda s, d: s.gc({d}),
    ],
    ids=["get_bytes", "exists", "size", "verify", "delete", "path_of", "copy_to", "gc"],
)
def test_malformed_digest_is_rejected(store, digest, call):
    with pytest.raises(InvalidInputError):
        call(store, digest)


def test_absolute_path_of_a_real_blob_is_not_a_digest(store):
    digest = store.put_bytes(b"x").digest
    with pytest.raises(InvalidInputError):
        store.get_bytes(store.path_of(digest))


def test_traversal_cannot_delete_outside_root(store, root, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("do not delete")
    for attempt in ("../../victim.txt", str(victim), "../" * 8 + "victim.txt"):
        with pytest.raises(InvalidInputError):
            store.delete(attempt)
    assert victim.read_text() == "do not delete"


@pytest.mark.parametrize(
    "call",
    [
        lambda s, d: s.get_bytes(d),
        lambda s, d: s.size(d),
        lambda s, d: s.verify(d),
        lambda s, d: s.delete(d),
        lambda s, d: s.path_of(d),
        lambda s, d: s.copy_to(d, os.path.join(s.root, "..", "out.bin")),
    ],
    ids=["get_bytes", "size", "verify", "delete", "path_of", "copy_to"],
)
def test_missing_blob_raises_not_found(store, call):
    store.put_bytes(b"something else")
    assert not store.exists(VALID)
    with pytest.raises(NotFoundError, match=VALID):
        call(store, VALID)


def test_delete(store):
    digest = store.put_bytes(b"bye").digest
    store.delete(digest)
    assert not store.exists(digest)
    assert list(store.iter_digests()) == []


# -- interrupted writes -------------------------------------------------------------------------


@pytest.mark.parametrize("error", [OSError("connection reset"), KeyboardInterrupt()])
def test_interrupted_write_leaves_nothing_visible(store, root, error):
    stream = FailingStream(error)
    with pytest.raises(type(error)):
        store.put_stream(stream)
    assert stream.calls == 2  # it really failed midway, after writing a chunk
    assert not store.exists(ref_digest(b"x" * 1000))
    assert list(store.iter_digests()) == []
    assert blob_files(root) == []
    assert temp_files(root) == []


def test_interrupted_write_to_memory_store(mem_store):
    with pytest.raises(OSError):
        mem_store.put_stream(FailingStream(OSError("boom")))
    assert list(mem_store.iter_digests()) == []
    assert mem_store._temp_files() == []


# -- fsspec root ----------------------------------------------------------------------------------


def test_memory_root_round_trip(mem_store, tmp_path):
    data = os.urandom(CHUNK_SIZE + 7)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    info = mem_store.put_file(src)
    assert info == BlobInfo(ref_digest(data), len(data))
    assert mem_store.put_bytes(data) == info
    assert mem_store.put_stream(io.BytesIO(data)) == info
    small = mem_store.put_bytes(b"small")
    assert mem_store.get_bytes(info.digest) == data
    assert mem_store.exists(info.digest) and mem_store.size(info.digest) == len(data)
    assert mem_store.verify(info.digest)
    assert list(mem_store.iter_digests()) == sorted([info.digest, small.digest])
    mem_store.copy_to(info.digest, tmp_path / "copy.bin")
    assert (tmp_path / "copy.bin").read_bytes() == data
    assert mem_store._temp_files() == []
    with pytest.raises(InvalidInputError, match="remote"):
        mem_store.path_of(info.digest)
    mem_store.delete(small.digest)
    assert not mem_store.exists(small.digest)
    with pytest.raises(NotFoundError):
        mem_store.delete(small.digest)


def test_memory_root_detects_corruption(mem_store):
    digest = mem_store.put_bytes(b"original").digest
    mem_store._fs.pipe_file(mem_store._key(digest), b"tampered")
    with pytest.raises(CorruptArtifactError, match=digest):
        mem_store.get_bytes(digest)
    assert mem_store.verify(digest) is False


def test_failed_upload_leaves_no_blob_on_filesystem_like_remote(mem_store, monkeypatch, tmp_path):
    # memory:// behaves like sftp/hdfs: a file is visible while being written, so uploads
    # must go to a temp key first.
    def torn_upload(lpath, rpath, **kwargs):
        mem_store._fs.pipe_file(rpath, b"half of it")
        raise OSError("connection dropped")

    monkeypatch.setattr(mem_store._fs, "put_file", torn_upload)
    src = tmp_path / "src.bin"
    src.write_bytes(b"the whole artifact")
    with pytest.raises(OSError, match="dropped"):
        mem_store.put_file(src)
    assert list(mem_store.iter_digests()) == []
    assert mem_store._temp_files() == []


def test_object_store_writes_final_key_directly(mem_store, monkeypatch):
    moves = []
    monkeypatch.setattr(mem_store, "_object_store", True)
    monkeypatch.setattr(mem_store._fs, "mv", lambda *a, **k: moves.append(a))
    digest = mem_store.put_bytes(b"direct put").digest
    assert mem_store.get_bytes(digest) == b"direct put"
    assert moves == []


def test_memory_root_gc(mem_store):
    keep = mem_store.put_bytes(b"keep").digest
    drop = mem_store.put_bytes(b"drop").digest
    report = mem_store.gc({keep}, grace_s=0)
    assert report.deleted == (drop,) and report.corrupt == ()
    assert list(mem_store.iter_digests()) == [keep]


# -- garbage collection ---------------------------------------------------------------------------


def make_gc_fixture(store, root):
    keep = store.put_bytes(b"keep").digest
    drop = store.put_bytes(b"drop").digest
    bad = store.put_bytes(b"referenced but damaged").digest
    corrupt_local(store, bad)
    for digest in (keep, drop, bad):
        age(store.path_of(digest))
    os.makedirs(os.path.join(root, "tmp"), exist_ok=True)
    stale, fresh = (os.path.join(root, "tmp", n) for n in ("stale.part", "fresh.part"))
    for path in (stale, fresh):
        with open(path, "wb") as f:
            f.write(b"partial")
    age(stale)
    return keep, drop, bad


def test_gc_dry_run_reports_without_removing(store, root):
    keep, drop, bad = make_gc_fixture(store, root)
    before = blob_files(root)
    report = store.gc({keep, bad}, dry_run=True)
    assert (report.deleted, report.corrupt) == ((drop,), (bad,))
    assert report.temp_removed == ("stale.part",)
    assert report.dry_run and report.checked == 3
    assert blob_files(root) == before
    assert sorted(temp_files(root)) == ["fresh.part", "stale.part"]


def test_gc_deletes_unreferenced_and_corrupt(store, root):
    keep, drop, bad = make_gc_fixture(store, root)
    report = store.gc({keep, bad})
    assert report.deleted == (drop,)
    assert report.corrupt == (bad,)
    assert report.temp_removed == ("stale.part",)
    assert report.bytes_freed == len(b"drop") + len(b"referenced but damaged")
    assert list(store.iter_digests()) == [keep]
    assert store.get_bytes(keep) == b"keep"
    assert temp_files(root) == ["fresh.part"]
    # Removing the damaged copy is what lets logging the artifact again repair it.
    assert store.put_bytes(b"referenced but damaged").digest == bad
    assert store.get_bytes(bad) == b"referenced but damaged"


def test_gc_keeps_recent_unreferenced_blobs(store):
    recent = store.put_bytes(b"reference not committed yet").digest
    assert store.gc(set()).deleted == ()
    assert store.exists(recent)
    assert store.gc(set(), grace_s=0).deleted == (recent,)


def test_gc_rejects_names_instead_of_digests(store):
    digest = store.put_bytes(b"x").digest
    age(store.path_of(digest))
    with pytest.raises(InvalidInputError):
        store.gc({"model.pkl"})
    assert store.exists(digest)


def test_iter_digests_ignores_foreign_files(store, root):
    digest = store.put_bytes(b"real").digest
    junk = os.path.join(root, "blobs", digest[:2], digest[2:4])
    for name in ("notes.txt", "b" * 64):  # wrong name, and a digest in the wrong folder
        with open(os.path.join(junk, name), "w") as f:
            f.write("junk")
    assert list(store.iter_digests()) == [digest]
