"""Content-addressed, immutable artifact blobs on a local folder or any fsspec URL.

A blob lives at ``<root>/blobs/<d[:2]>/<d[2:4]>/<d>`` where ``d`` is the BLAKE3 hex digest
of its bytes. Names users give artifacts live in the metadata store, never in a path, and
every digest argument must be exactly 64 lowercase hex characters: that check is what keeps
a crafted "digest" such as ``../../etc/passwd`` from escaping the root.

Nothing found by walking the local root is trusted either (:mod:`.safe_paths`): the walk never
follows a symlink, ``gc`` deletes a stale link and not what it points to, and a ``tmp/`` or
``blobs/`` folder that is a symlink leading out of the root is refused before anything is
written or deleted there.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import secrets
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from jupyter_mlops.errors import (
    CorruptArtifactError,
    InvalidInputError,
    NotFoundError,
    PathEscapeError,
    StoreUnavailableError,
)
from jupyter_mlops.extras import require_for_url
from jupyter_mlops.hashing import CHUNK_SIZE, hash_bytes, hash_file, new_hasher
from jupyter_mlops.store import safe_paths
from jupyter_mlops.store.interfaces import AbstractArtifactStore

__all__ = ["STALE_AFTER_S", "BlobInfo", "BlobStore", "GcReport"]

_DIGEST = re.compile(r"[0-9a-f]{64}")
#: ``gc`` leaves temp files and unreferenced blobs younger than this alone.
STALE_AFTER_S = 3600.0
# Object stores publish an object only once its upload completes (one PUT or a completed
# multipart upload), so writing the final key is already atomic, whereas a "rename" there
# is a full server-side copy plus a delete.
_OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oci"})


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob: its BLAKE3 hex ``digest`` and ``size`` in bytes."""

    digest: str
    size: int


@dataclass(frozen=True)
class GcReport:
    """What :meth:`BlobStore.gc` removed (or, with ``dry_run``, would remove).

    ``deleted``: unreferenced blobs; ``corrupt``: kept blobs whose content no longer matches
    their digest (removed as well, so logging the artifact again repairs it);
    ``temp_removed``: names of stale temp files; ``bytes_freed``: size of removed blobs;
    ``missing``: referenced digests with no blob at all (what points at them cannot be read).
    """

    checked: int
    deleted: tuple[str, ...]
    corrupt: tuple[str, ...]
    temp_removed: tuple[str, ...]
    bytes_freed: int
    dry_run: bool
    missing: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every referenced blob is present and intact."""
        return not self.corrupt and not self.missing


class BlobStore(AbstractArtifactStore):
    """Immutable blobs addressed by BLAKE3 digest, written atomically, verified on read.

    Every method taking a ``digest`` raises :class:`InvalidInputError` unless it is 64
    lowercase hex characters and :class:`NotFoundError` if no such blob is stored; readers
    with ``verify`` raise :class:`CorruptArtifactError` instead of returning bytes that no
    longer match their digest.

    Parameters
    ----------
    root : str or os.PathLike
        A local folder (plain ``os`` calls) or an fsspec URL such as ``s3://bucket/prefix``.
    storage_options : dict, optional
        Passed to fsspec for URL roots (credentials, endpoint…).
    """

    def __init__(self, root: str | os.PathLike[str], storage_options: dict | None = None):
        self.root = root = os.fspath(root)
        if root.startswith("file://"):
            root = root[len("file://") :]
        self._fs: Any = None
        if "://" in root:
            require_for_url(root)  # s3fs is the 's3' extra
            import fsspec  # lazy: only remote roots pay for it

            self._fs, base = fsspec.core.url_to_fs(root, **(storage_options or {}))
            self._base = base.rstrip("/")
            protocol = self._fs.protocol
            protocols = {protocol} if isinstance(protocol, str) else set(protocol)
            self._object_store = bool(protocols & _OBJECT_STORES)
        else:
            self._base = os.path.abspath(os.path.expanduser(root))

    def __repr__(self) -> str:
        return f"BlobStore({self.root!r})"

    def put_bytes(self, data: bytes | bytearray | memoryview) -> BlobInfo:
        """Store ``data``; a no-op returning the same :class:`BlobInfo` if already stored."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidInputError(f"put_bytes() needs bytes, not {type(data).__name__}.")
        # As put_file: content already stored (a cached pipeline step's notebook snapshot,
        # the same notebook logged again) costs a hash and a stat, no write and no fsync.
        info = BlobInfo(hash_bytes(data), memoryview(data).nbytes)
        if self._claim_existing(info.digest):
            return info
        return self.put_stream(io.BytesIO(data))

    def put_file(self, path: str | os.PathLike[str]) -> BlobInfo:
        """Store the content of the file at ``path`` (:class:`NotFoundError` if missing)."""
        path = os.fspath(path)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise NotFoundError(f"Cannot store {path!r}: no such file.") from None
        if stat.S_ISDIR(st.st_mode):
            raise InvalidInputError(f"Cannot store {path!r} as one blob: it is a directory.")
        if stat.S_ISREG(st.st_mode):
            # Hashing through mmap is several times faster than writing, so a file whose
            # content is already stored costs one read and no write or upload at all.
            info = BlobInfo(hash_file(path), st.st_size)
            if self._claim_existing(info.digest):
                return info
        with open(path, "rb") as f:
            return self.put_stream(f)

    def put_stream(self, fileobj: BinaryIO) -> BlobInfo:
        """Store everything readable from a binary file object.

        The digest is computed from the bytes actually written, so a source that changes
        while it is read is still stored under the address of what was stored.

        Raises
        ------
        StoreUnavailableError
            The artifact store's disk is full (or read-only); nothing was stored.
        """
        try:
            return self._put_stream(fileobj)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                raise StoreUnavailableError(
                    f"Cannot write to the artifact store at {self.root}: {exc.strerror}. "
                    "Free some space (or make it writable) and log the artifact again; "
                    "nothing was stored.") from exc
            raise

    def _put_stream(self, fileobj: BinaryIO) -> BlobInfo:
        if self._fs is None:
            return self._put_local(fileobj)
        # The key is known only once everything is read: spool locally, then upload once.
        with tempfile.TemporaryDirectory(prefix="mlops-put-") as spool_dir:
            spool = os.path.join(spool_dir, "blob")
            with open(spool, "xb") as out:
                info = _copy(fileobj, out)
            if not self._fs.exists(self._key(info.digest)):
                self._publish(info.digest, lambda target: self._fs.put_file(spool, target))
        return info

    def _put_local(self, fileobj: BinaryIO) -> BlobInfo:
        # tmp/ sits beside blobs/ on the same filesystem, so the final rename is atomic.
        with _temp_path(safe_paths.owned_dir(self._base, "tmp")) as tmp:
            info = _write_synced(fileobj, tmp)
            if not self._claim_existing(info.digest):
                final = self._key(info.digest)
                os.makedirs(os.path.dirname(final), exist_ok=True)
                # A symlinked blobs/ or blobs/ab/cd/ would publish the blob outside the root.
                self._check_inside(os.path.dirname(final))
                # Read-only, so code holding path_of() cannot edit a blob in place by accident.
                os.chmod(tmp, stat.S_IMODE(os.stat(tmp).st_mode) & 0o444)
                os.replace(tmp, final)
                _fsync_dir(os.path.dirname(final))
        return info

    def _claim_existing(self, digest: str) -> bool:
        key = self._key(digest)
        if self._fs is not None:
            return bool(self._fs.exists(key))
        if os.path.islink(key):
            return False  # not a stored blob: the rename that follows replaces the link
        try:
            # A fresh mtime lets gc's grace period protect a blob that is being re-referenced
            # right now. (Objects in remote stores cannot be touched cheaply.)
            os.utime(key)
        except FileNotFoundError:
            return False
        except OSError:
            return os.path.isfile(key)  # another user's read-only blob: still a hit
        return True

    def _publish(self, digest: str, write: Callable[[str], object]) -> None:
        final = self._key(digest)
        if self._object_store:
            write(final)
            return
        # Filesystem-like remotes (sftp, hdfs, memory…) could expose a half-written file,
        # so write a temp key and rename it into place.
        tmp = self._join("tmp", f"{secrets.token_hex(16)}.part")
        try:
            self._fs.makedirs(self._join("tmp"), exist_ok=True)
            write(tmp)
            self._fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
            self._fs.mv(tmp, final)
        except BaseException:
            with contextlib.suppress(Exception):
                self._fs.rm(tmp)
            raise

    def get_bytes(self, digest: str, verify: bool = True) -> bytes:
        """Return a blob's content, checked against ``digest`` unless ``verify`` is false."""
        with self._open(digest) as f:
            data = f.read()
        if verify and hash_bytes(data) != digest:
            raise self._corrupt(digest)
        return data

    def copy_to(self, digest: str, dest: str | os.PathLike[str], verify: bool = True) -> BlobInfo:
        """Copy a blob to the local file ``dest``, replacing it atomically.

        With ``verify``, bytes that do not match ``digest`` never reach ``dest``.
        """
        dest = os.path.abspath(os.fspath(dest))
        with self._open(digest) as src, _temp_path(os.path.dirname(dest)) as tmp:
            info = _write_synced(src, tmp)
            if verify and info.digest != digest:
                raise self._corrupt(digest)
            os.replace(tmp, dest)
        return BlobInfo(digest, info.size)

    def path_of(self, digest: str) -> str:
        """Return the local path of a stored blob (read-only, not verified).

        Raises :class:`InvalidInputError` for a remote store: use :meth:`copy_to` there.
        """
        key = self._key(digest)
        if self._fs is not None:
            raise InvalidInputError(
                f"path_of() needs a local artifact root, but {self.root!r} is remote; "
                "use copy_to() or get_bytes() instead."
            )
        if not _is_real_file(key):
            raise self._missing(digest)
        return key

    def exists(self, digest: str) -> bool:
        """Return whether a blob is stored (without verifying it)."""
        key = self._key(digest)
        return _is_real_file(key) if self._fs is None else bool(self._fs.exists(key))

    def size(self, digest: str) -> int:
        """Return a stored blob's size in bytes."""
        key = self._key(digest)
        try:
            return os.stat(key).st_size if self._fs is None else int(self._fs.size(key))
        except FileNotFoundError:
            raise self._missing(digest) from None

    def verify(self, digest: str) -> bool:
        """Return whether a stored blob's content still matches its digest."""
        with self._open(digest) as f:
            if self._fs is None:
                return hash_file(self._key(digest)) == digest  # mmap on all cores
            return _copy(f, None).digest == digest

    def iter_digests(self) -> Iterator[str]:
        """Yield the digest of every stored blob, in sorted order.

        On a local root, only real folders and real files count: a symlink found on the way
        is never followed (see :mod:`.safe_paths`).
        """
        if self._fs is None:
            blobs = safe_paths.owned_dir(self._base, "blobs")
            for a in _real_dirs(blobs):
                for b in _real_dirs(a.path):
                    for blob in safe_paths.scan(b.path):
                        name = blob.name
                        if blob.is_file and _DIGEST.fullmatch(name) \
                                and (name[:2], name[2:4]) == (a.name, b.name):
                            yield name
            return
        for path in sorted(self._fs.find(self._join("blobs"))):
            parts = path.rstrip("/").split("/")
            if _DIGEST.fullmatch(parts[-1]) and parts[-3:-1] == [parts[-1][:2], parts[-1][2:4]]:
                yield parts[-1]

    def delete(self, digest: str) -> None:
        """Remove a stored blob."""
        try:
            self._remove(self._key(digest))
        except FileNotFoundError:
            raise self._missing(digest) from None

    def gc(
        self, referenced: Iterable[str], dry_run: bool = False, *, grace_s: float = STALE_AFTER_S
    ) -> GcReport:
        """Delete unreferenced blobs and stale temp files; verify the blobs kept.

        Parameters
        ----------
        referenced : iterable of str
            Digests in use. Every other blob last stored more than ``grace_s`` ago goes;
            recent ones are kept because another process may still be committing their
            reference. Temp files go once older than :data:`STALE_AFTER_S`.
        dry_run : bool
            Only report what would be removed.

        Returns
        -------
        GcReport
            Also lists the referenced digests that have no blob (``missing``).

        Raises
        ------
        InvalidInputError
            An entry of ``referenced`` is not a digest (e.g. an artifact name was passed).
        PathEscapeError
            The local root's ``tmp/`` or ``blobs/`` is a symlink leading out of the root:
            nothing was deleted.
        """
        referenced = set(referenced)
        for digest in referenced:
            _check_digest(digest)
        if self._fs is None:  # refuse before deleting anything, not halfway through
            for sub in ("blobs", "tmp"):
                safe_paths.owned_dir(self._base, sub)
        now, checked, freed, deleted, corrupt = time.time(), 0, 0, [], []
        present = set()
        for digest in list(self.iter_digests()):
            checked += 1
            present.add(digest)
            with contextlib.suppress(NotFoundError, FileNotFoundError):  # removed meanwhile
                size = self.size(digest)
                if digest not in referenced and now - self._mtime(self._key(digest)) >= grace_s:
                    deleted.append(digest)
                elif not self.verify(digest):  # hash only the blobs we keep
                    corrupt.append(digest)
                else:
                    continue
                freed += size
                if not dry_run:
                    self._remove(self._key(digest))
        temps = []
        for path in self._temp_files():
            with contextlib.suppress(FileNotFoundError):
                if now - self._mtime(path) >= STALE_AFTER_S:
                    if not dry_run:
                        self._remove(path)
                    temps.append(path.replace("\\", "/").rsplit("/", 1)[-1])
        # Present but skipped (removed meanwhile) still counts as present: only what no walk
        # found, and is still absent now, is reported missing.
        missing = tuple(sorted(d for d in referenced - present if not self.exists(d)))
        return GcReport(checked, tuple(deleted), tuple(corrupt), tuple(temps), freed, dry_run,
                        missing)

    def _temp_files(self) -> list[str]:
        if self._fs is None:
            # Files and stale links only: a link is removed itself, its target never.
            tmp_dir = safe_paths.owned_dir(self._base, "tmp")
            return [e.path for e in safe_paths.scan(tmp_dir) if e.is_file or e.is_symlink]
        tmp_dir = self._join("tmp")
        return sorted(self._fs.find(tmp_dir)) if self._fs.exists(tmp_dir) else []

    def _key(self, digest: str) -> str:
        _check_digest(digest)
        parts = ("blobs", digest[:2], digest[2:4], digest)
        return os.path.join(self._base, *parts) if self._fs is None else self._join(*parts)

    def _join(self, *parts: str) -> str:
        return "/".join(p for p in (self._base, *parts) if p)

    def _open(self, digest: str) -> BinaryIO:
        key = self._key(digest)
        try:
            if self._fs is None:
                # A symlink planted at a blob's path is no stored blob: never read through it.
                return os.fdopen(os.open(key, os.O_RDONLY | _O_NOFOLLOW), "rb")
            return self._fs.open(key, "rb")
        except FileNotFoundError:
            raise self._missing(digest) from None
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise CorruptArtifactError(
                f"Artifact blob {digest} in {self.root!r} is a symbolic link, not a stored "
                "blob, so it was not read. Remove the link and log the artifact again.") from None

    def _mtime(self, path: str) -> float:
        if self._fs is None:
            return os.lstat(path).st_mtime  # a link's own age, not its target's
        try:
            return self._fs.modified(path).timestamp()
        except NotImplementedError:
            return time.time()  # age unknown: count it as new, so it is never collected

    def _remove(self, path: str) -> None:
        if self._fs is not None:
            if not self._fs.exists(path):
                raise FileNotFoundError(path)
            self._fs.rm(path)
            return
        safe_paths.remove_entry(path, self._base)

    def _check_inside(self, path: str) -> None:
        if not safe_paths.is_within(path, self._base):
            raise PathEscapeError(
                f"{path!r} resolves to {os.path.realpath(path)!r}, outside the artifact root "
                f"{self.root!r} (a symbolic link on the way); nothing was written there. "
                "Replace the link by a real folder.")

    def _missing(self, digest: str) -> NotFoundError:
        return NotFoundError(
            f"No artifact blob {digest} in {self.root!r}; it may have been garbage-collected. "
            "Log the artifact again."
        )

    def _corrupt(self, digest: str) -> CorruptArtifactError:
        return CorruptArtifactError(
            f"Artifact blob {digest} in {self.root!r} is corrupt: its content no longer matches "
            "its BLAKE3 hash, so it was not returned. Run `jupyter mlops gc` to remove it, "
            "then log the artifact again."
        )


def _check_digest(digest: object) -> None:
    if not (isinstance(digest, str) and _DIGEST.fullmatch(digest)):
        raise InvalidInputError(
            f"{repr(digest)[:80]} is not an artifact digest: expected 64 lowercase hex "
            "characters (a BLAKE3 hash, as returned by put_file())."
        )


def _copy(src: BinaryIO, dst: BinaryIO | None) -> BlobInfo:
    """Copy ``src`` to ``dst`` (if given) in chunks, hashing on the way."""
    hasher, size = new_hasher(), 0
    while chunk := src.read(CHUNK_SIZE):
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise InvalidInputError("Artifacts must be read from a binary file (open with 'rb').")
        hasher.update(chunk)
        if dst is not None:
            dst.write(chunk)
        size += len(chunk)
    return BlobInfo(hasher.hexdigest(), size)


@contextlib.contextmanager
def _temp_path(directory: str) -> Iterator[str]:
    """Yield a fresh temp path in ``directory``; whatever is left there afterwards is removed."""
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".mlops-{secrets.token_hex(16)}.part")
    try:
        yield tmp
    finally:  # a no-op once the file was renamed into place
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def _write_synced(src: BinaryIO, path: str) -> BlobInfo:
    with open(path, "xb") as out:
        info = _copy(src, out)
        out.flush()
        os.fsync(out.fileno())  # the data must be on disk before the rename publishes it
    return info


_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _is_real_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _real_dirs(path: str) -> list[safe_paths.Entry]:
    return [e for e in safe_paths.scan(path) if e.is_dir]


def _fsync_dir(path: str) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot fsync a directory.
    if os.name == "posix":
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
