"""AbstractArtifactStore contract on its two backends: a local folder and an fsspec URL.

``tests/test_blobs.py`` holds each backend's own cases (layout, permissions, torn uploads,
symlinks); here the same behaviour is asked of both.
"""

from __future__ import annotations

import io
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import CorruptArtifactError, InvalidInputError, NotFoundError
from jupyter_mlops.hashing import hash_bytes
from jupyter_mlops.store.blobs import BlobStore


@pytest.fixture(params=["local", "fsspec"])
def blobs(request, tmp_path) -> BlobStore:
    if request.param == "local":
        yield BlobStore(tmp_path / "artifacts")
        return
    import fsspec

    name = uuid.uuid4().hex
    yield BlobStore(f"memory://{name}/artifacts")
    fs = fsspec.filesystem("memory")
    if fs.exists(f"/{name}"):
        fs.rm(f"/{name}", recursive=True)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000))
def test_any_bytes_round_trip_under_their_digest_by_every_way_in(blobs, tmp_path, data):
    info = blobs.put_bytes(data)
    assert (info.digest, info.size) == (hash_bytes(data), len(data))
    assert blobs.put_stream(io.BytesIO(data)) == info  # the same content: the same blob
    assert blobs.get_bytes(info.digest) == data
    assert blobs.exists(info.digest) and blobs.size(info.digest) == len(data)
    assert blobs.verify(info.digest)
    dest = tmp_path / f"{info.digest}.out"
    assert blobs.copy_to(info.digest, dest) == info and dest.read_bytes() == data


def test_digests_are_listed_sorted_and_deleted_once(blobs, tmp_path):
    source = tmp_path / "f.bin"
    source.write_bytes(b"from a file")
    infos = [blobs.put_bytes(b"a"), blobs.put_bytes(b"b"), blobs.put_file(source)]
    assert list(blobs.iter_digests()) == sorted(i.digest for i in infos)
    blobs.delete(infos[0].digest)
    assert not blobs.exists(infos[0].digest)
    for call in (blobs.delete, blobs.get_bytes, blobs.size):
        with pytest.raises(NotFoundError):
            call(infos[0].digest)
    with pytest.raises(NotFoundError):
        blobs.put_file(tmp_path / "missing.bin")


@pytest.mark.parametrize("digest", ["", "A" * 64, "../" + "a" * 61, "a" * 63, "a" * 65])
def test_anything_but_a_digest_is_refused(blobs, digest):
    for call in (blobs.get_bytes, blobs.exists, blobs.delete, blobs.verify):
        with pytest.raises(InvalidInputError):
            call(digest)


def test_gc_keeps_what_is_referenced_and_what_is_recent(blobs):
    keep, drop = blobs.put_bytes(b"keep"), blobs.put_bytes(b"drop")
    report = blobs.gc([keep.digest], grace_s=3600.0)
    assert report.ok and blobs.exists(drop.digest)  # too young to collect
    blobs.gc([keep.digest], dry_run=True, grace_s=0.0)
    assert blobs.exists(drop.digest)  # a dry run deletes nothing
    report = blobs.gc([keep.digest], grace_s=0.0)
    assert report.ok and not blobs.exists(drop.digest) and blobs.exists(keep.digest)


def test_corruption_is_reported_never_returned(blobs):
    info = blobs.put_bytes(b"model weights")
    if blobs._fs is None:  # tamper the way a bad disk or a hand edit would
        import os

        path = blobs.path_of(info.digest)
        os.chmod(path, 0o600)
        with open(path, "wb") as f:
            f.write(b"model weightz")
    else:
        with blobs._fs.open(blobs._key(info.digest), "wb") as f:
            f.write(b"model weightz")
    assert not blobs.verify(info.digest)
    with pytest.raises(CorruptArtifactError):
        blobs.get_bytes(info.digest)
    assert blobs.get_bytes(info.digest, verify=False) == b"model weightz"
