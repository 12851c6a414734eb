"""Contract of the artifact store: content-addressed, immutable blobs."""

from __future__ import annotations

import abc
import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:  # the records live beside their implementation, which imports this module
    from jupyter_mlops.store.blobs import BlobInfo, GcReport


class AbstractArtifactStore(abc.ABC):
    """Blobs named by the BLAKE3 hex digest of their bytes, written atomically, verified on read.

    Every ``digest`` argument is exactly 64 lowercase hex characters (anything else is an
    :class:`~jupyter_mlops.errors.InvalidInputError`, which is what keeps a crafted digest from
    naming a path outside the root); a digest that is not stored is a
    :class:`~jupyter_mlops.errors.NotFoundError`.
    """

    @abc.abstractmethod
    def put_bytes(self, data: bytes | bytearray | memoryview) -> BlobInfo:
        """Store ``data`` and return its digest and size; storing the same bytes again is a no-op."""

    @abc.abstractmethod
    def put_file(self, path: str | os.PathLike[str]) -> BlobInfo:
        """Store the content of the local file at ``path``; NotFoundError if it is missing."""

    @abc.abstractmethod
    def put_stream(self, fileobj: BinaryIO) -> BlobInfo:
        """Store everything readable from a binary file object, without holding it in memory."""

    @abc.abstractmethod
    def get_bytes(self, digest: str, verify: bool = True) -> bytes:
        """Return a blob's bytes; CorruptArtifactError if they no longer match ``digest`` (when verifying)."""

    @abc.abstractmethod
    def copy_to(self, digest: str, dest: str | os.PathLike[str], verify: bool = True) -> BlobInfo:
        """Copy a blob to the local file ``dest``, replacing it atomically (never a half-written file)."""

    @abc.abstractmethod
    def path_of(self, digest: str) -> str:
        """Return the local path of a stored blob, to read only; not verified."""

    @abc.abstractmethod
    def exists(self, digest: str) -> bool:
        """Return whether the blob is stored, without reading or verifying it."""

    @abc.abstractmethod
    def size(self, digest: str) -> int:
        """Return a stored blob's size in bytes."""

    @abc.abstractmethod
    def verify(self, digest: str) -> bool:
        """Return whether a stored blob's bytes still hash to ``digest``."""

    @abc.abstractmethod
    def iter_digests(self) -> Iterator[str]:
        """Yield the digest of every stored blob, in sorted order."""

    @abc.abstractmethod
    def delete(self, digest: str) -> None:
        """Remove a stored blob; NotFoundError if it is not stored."""

    @abc.abstractmethod
    def gc(self, referenced: Iterable[str], dry_run: bool = False, *,
           grace_s: float = 3600.0) -> GcReport:
        """Delete blobs not in ``referenced`` and stale temp files older than ``grace_s``; verify the rest."""
