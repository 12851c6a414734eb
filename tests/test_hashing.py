"""Tests for BLAKE3 file/directory hashing and the SQLite-backed HashCache."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import blake3
import pytest

from jupyter_mlops import hashing
from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.hashing import CHUNK_SIZE, HashCache, hash_bytes, hash_file, hash_path

# Official BLAKE3 test vectors.
EMPTY = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
ABC = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(path, data: bytes, *, age_s: float = 60.0) -> str:
    """Write ``data`` and date it ``age_s`` seconds back, clear of the racy-timestamp window."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    past = time.time_ns() - int(age_s * 1e9)
    os.utime(path, ns=(past, past))
    return str(path)


@pytest.fixture
def count_hashes(monkeypatch):
    """Count calls to the uncached file hasher that HashCache falls back on."""
    calls: list[str] = []
    real = hashing.hash_file

    def counting(path):
        calls.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(hashing, "hash_file", counting)
    return calls


# -- plain hashing -------------------------------------------------------------------------------


def test_hash_bytes_matches_known_vectors():
    assert hash_bytes(b"") == EMPTY
    assert hash_bytes(b"abc") == ABC
    assert hash_bytes(bytearray(b"abc")) == hash_bytes(memoryview(b"abc")) == ABC


@pytest.mark.parametrize("size", [0, 1, 1023, 1024, CHUNK_SIZE + 1, 3 * CHUNK_SIZE])
def test_hash_file_matches_hash_of_content(tmp_path, size):
    data = os.urandom(size)
    path = write(tmp_path / "f.bin", data)
    assert hash_file(path) == blake3.blake3(data).hexdigest()
    assert hash_path(path) == hash_file(path)


def test_hash_file_falls_back_to_reads_when_mmap_fails(tmp_path, monkeypatch):
    data = os.urandom(CHUNK_SIZE * 2 + 5)
    path = write(tmp_path / "f.bin", data)
    mmap_attempts = []

    class NoMmap:
        def __init__(self):
            self._h = blake3.blake3()

        def update_mmap(self, p):
            mmap_attempts.append(p)
            raise OSError("mmap not supported here")

        def update(self, chunk):
            self._h.update(chunk)

        def hexdigest(self):
            return self._h.hexdigest()

    monkeypatch.setattr(hashing, "new_hasher", NoMmap)
    assert hash_file(path) == blake3.blake3(data).hexdigest()
    assert mmap_attempts == [path]


def test_hash_file_errors(tmp_path):
    with pytest.raises(NotFoundError):
        hash_file(tmp_path / "missing")
    with pytest.raises(InvalidInputError, match="hash_path"):
        hash_file(tmp_path)
    with pytest.raises(NotFoundError):
        hash_path(tmp_path / "missing")


# -- directories ---------------------------------------------------------------------------------

TREE = {"a.txt": b"alpha", "sub/b.bin": b"\x00\x01", "sub/deeper/c": b"", "z": b"last"}


def make_tree(root, order):
    for rel in order:
        write(os.path.join(root, *rel.split("/")), TREE[rel], age_s=60 + len(rel))
    return str(root)


def test_directory_hash_ignores_creation_order_and_timestamps(tmp_path):
    one = make_tree(tmp_path / "one", sorted(TREE))
    two = make_tree(tmp_path / "two", sorted(TREE, reverse=True))
    os.utime(os.path.join(two, "z"), (1, 1))
    assert hash_path(one) == hash_path(two)
    assert hash_path(one) == hash_path(one + os.sep)


def test_directory_hash_ignores_listing_order(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "t", list(TREE))
    expected = hash_path(root)
    real_walk = os.walk

    def reversed_walk(top, **kwargs):
        for dirpath, dirnames, filenames in real_walk(top, **kwargs):
            dirnames.reverse()
            yield dirpath, dirnames, filenames[::-1]

    monkeypatch.setattr(hashing.os, "walk", reversed_walk)
    assert hash_path(root) == expected


@pytest.mark.parametrize(
    "change",
    [
        lambda root: write(os.path.join(root, "a.txt"), b"alphA"),  # content
        lambda root: os.rename(os.path.join(root, "z"), os.path.join(root, "y")),  # name
        lambda root: os.rename(os.path.join(root, "z"), os.path.join(root, "sub", "z")),  # move
        lambda root: write(os.path.join(root, "new"), b""),  # added empty file
        lambda root: os.remove(os.path.join(root, "sub", "deeper", "c")),  # removed
    ],
    ids=["content", "rename", "move", "add", "remove"],
)
def test_directory_hash_changes_with_content_or_layout(tmp_path, change):
    root = make_tree(tmp_path / "t", list(TREE))
    before = hash_path(root)
    change(root)
    assert hash_path(root) != before


def test_directory_encoding_is_unambiguous(tmp_path):
    left = tmp_path / "l"
    right = tmp_path / "r"
    write(left / "a", b"bc")
    write(right / "ab", b"c")
    assert hash_path(left) != hash_path(right)
    # A directory never collides with a file holding one of its files' bytes.
    assert hash_path(left) != hash_file(left / "a")


@pytest.mark.skipif(sys.platform != "linux", reason="needs arbitrary bytes in file names")
def test_directory_entries_cannot_be_spliced(tmp_path):
    # Without length prefixes, files "a" and "b" would encode exactly like one file named
    # "a" + digest(a's content) + "b" holding b's content.
    content = next(
        c for c in (str(i).encode() for i in range(1000))
        if not set(bytes.fromhex(hash_bytes(c))) & {0, ord("/")}
    )
    two, one = tmp_path / "two", tmp_path / "one"
    write(two / "a", content)
    write(two / "b", b"tail")
    one.mkdir()
    spliced = os.path.join(os.fsencode(one), b"a" + bytes.fromhex(hash_bytes(content)) + b"b")
    with open(spliced, "wb") as f:
        f.write(b"tail")
    assert hash_path(one) != hash_path(two)


def test_empty_directory_is_deterministic(tmp_path):
    (tmp_path / "e1").mkdir()
    (tmp_path / "e2" / "only-empty-subdirs").mkdir(parents=True)
    assert hash_path(tmp_path / "e1") == hash_path(tmp_path / "e2")
    assert hash_path(tmp_path / "e1") != EMPTY


# -- HashCache -----------------------------------------------------------------------------------


def test_cache_returns_stored_digest_without_rehashing(tmp_path, count_hashes):
    path = write(tmp_path / "data.bin", os.urandom(100_000))
    expected = blake3.blake3(open(path, "rb").read()).hexdigest()
    with HashCache(tmp_path / "cache.db") as cache:
        assert cache.hash(path) == expected
        assert cache.hash(path) == expected
        assert cache.hash(os.path.relpath(path)) == expected  # same absolute path
    assert count_hashes == [path]
    # Persisted: a new process-level object over the same file still needs no rehash.
    assert HashCache(tmp_path / "cache.db").hash(path) == expected
    assert count_hashes == [path]


def test_cache_serves_stored_digest_while_stat_is_unchanged(tmp_path, count_hashes):
    # Proves the value comes from the cache: content swapped behind the cache's back with
    # size, mtime and inode restored is (by design) not noticed.
    path = write(tmp_path / "data.bin", b"A" * 4096)
    cache = HashCache(None)
    first = cache.hash(path)
    st = os.stat(path)
    with open(path, "r+b") as f:
        f.write(b"B")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert cache.hash(path) == first
    assert len(count_hashes) == 1


def test_cache_rehashes_same_size_change_after_mtime_bump(tmp_path, count_hashes):
    path = write(tmp_path / "data.bin", b"A" * 4096, age_s=120)
    cache = HashCache(tmp_path / "cache.db")
    first = cache.hash(path)
    write(path, b"B" * 4096, age_s=60)  # same size, newer (but not racy) mtime
    second = cache.hash(path)
    assert second != first
    assert second == hash_bytes(b"B" * 4096)
    assert len(count_hashes) == 2
    assert cache.hash(path) == second and len(count_hashes) == 2


def test_cache_rehashes_when_inode_changes(tmp_path, count_hashes):
    path = write(tmp_path / "data.bin", b"old!", age_s=60)
    cache = HashCache(None)
    cache.hash(path)
    replacement = write(tmp_path / "other.bin", b"new!", age_s=60)
    os.utime(replacement, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns))
    os.replace(replacement, path)  # same size and mtime, new inode
    assert cache.hash(path) == hash_bytes(b"new!")
    assert len(count_hashes) == 2


def test_cache_does_not_trust_just_modified_files(tmp_path, count_hashes):
    # A write in the same timestamp tick as our read would keep (size, mtime): such entries
    # are rehashed until their mtime is safely older than the hash.
    path = write(tmp_path / "fresh.bin", b"hot", age_s=0)
    cache = HashCache(None)
    cache.hash(path)
    cache.hash(path)
    assert len(count_hashes) == 2


def test_cache_hashes_directories_like_hash_path(tmp_path, count_hashes):
    root = make_tree(tmp_path / "t", list(TREE))
    expected = hash_path(root)
    cache = HashCache(tmp_path / "cache.db")
    count_hashes.clear()
    assert cache.hash(root) == expected
    assert len(count_hashes) == len(TREE)
    assert cache.hash(root) == expected
    assert len(count_hashes) == len(TREE)  # second pass: every file came from the cache


def test_cache_missing_path(tmp_path):
    with pytest.raises(NotFoundError):
        HashCache(None).hash(tmp_path / "missing")


def test_cache_rebuilds_unknown_schema(tmp_path):
    db = tmp_path / "cache.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE file_hashes (path TEXT, junk TEXT)")
    conn.commit()
    conn.close()
    path = write(tmp_path / "f", b"abc")
    assert HashCache(db).hash(path) == ABC
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT digest FROM file_hashes").fetchall() == [(ABC,)]
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


WORKER = """
import os, sys
sys.path.insert(0, {repo!r})
from jupyter_mlops.hashing import HashCache
cache = HashCache({db!r})
paths = sys.argv[1:]
for _ in range(5):
    for p in paths:
        print(p, cache.hash(p))
"""


def test_cache_shared_by_concurrent_processes(tmp_path):
    db = str(tmp_path / "shared.db")
    files = [write(tmp_path / f"f{i}", os.urandom(1000 + i)) for i in range(40)]
    script = WORKER.format(repo=REPO, db=db)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, *files[i:] + files[:i]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (0, 13, 27)
    ]
    expected = {p: hash_file(p) for p in files}
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        lines = [line.split() for line in out.splitlines()]
        assert len(lines) == 5 * len(files)
        assert all(expected[p] == d for p, d in lines)
    conn = sqlite3.connect(db)
    assert dict(conn.execute("SELECT path, digest FROM file_hashes")) == expected
