"""Filesystem operations that never leave their root folder.

Names that come from data (an artifact's name, a cached output's relative path) or from a
walk (entries found under ``tmp/`` or ``blobs/``) are only ever used through this module:

* :func:`join_under` turns a relative name into a path under a root, refusing empty parts,
  absolute paths, drive letters, ``..`` and NUL, and any symlink on the way that resolves
  outside the root;
* :func:`owned_dir` returns a sub-folder the caller owns (``tmp``, ``blobs``) after checking
  that it is not a symlink leading elsewhere;
* :func:`scan` lists a folder without following symlinks (a symlinked folder is reported as
  a link, never entered), and :func:`remove_entry` deletes a link itself, never its target.

The root itself is taken as configured: pointing an artifact root at a bigger disk with a
symlink is a legitimate setup, so the root is resolved once and everything must stay inside
the resolved root. Only what lies *under* it is distrusted.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from jupyter_mlops.errors import PathEscapeError

__all__ = ["Entry", "files_under", "is_within", "join_under", "owned_dir", "remove_entry",
           "scan"]


def is_within(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """Whether ``path``, with every symlink resolved, is ``root`` or lies below it."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    try:
        return os.path.commonpath([real, real_root]) == real_root
    except ValueError:  # different drives on Windows
        return False


def _relative_parts(name: str, what: str) -> list[str]:
    if not isinstance(name, str) or not name or "\x00" in name:
        raise PathEscapeError(f"The {what} {str(name)[:200]!r} is not a usable relative path: "
                              "it is empty or holds a NUL character.")
    # Either separator counts: a name written on Windows must not climb out on POSIX.
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or windows.root:
        raise PathEscapeError(
            f"The {what} {name[:200]!r} is absolute; only names relative to the destination "
            "folder are written. Rename it (or copy it by hand if you trust it).")
    parts = [p for p in windows.parts if p not in ("", ".")]
    if ".." in parts or not parts:
        raise PathEscapeError(
            f"The {what} {name[:200]!r} climbs out of its destination folder ('..'); nothing "
            "was written. Rename it (or copy it by hand if you trust it).")
    return parts


def join_under(root: str | os.PathLike[str], name: str, what: str = "name") -> Path:
    """``root/name``, refused unless it stays under ``root`` with every symlink resolved.

    Parameters
    ----------
    root : path
        The folder everything must stay in (need not exist yet).
    name : str
        A relative name from data, ``/`` or ``\\`` separated.
    what : str
        How the name is called in the error message ("artifact name"…).

    Raises
    ------
    PathEscapeError
        ``name`` is empty, absolute, holds ``..`` or NUL, or an existing symlink on the way
        points outside ``root``.
    """
    parts = _relative_parts(name, what)
    path = Path(root).joinpath(*parts)
    if not is_within(path, root):
        raise PathEscapeError(
            f"The {what} {name[:200]!r} leads outside {os.fspath(root)!r} through a symbolic "
            "link; nothing was written there. Remove the link or pick another destination.")
    return path


def owned_dir(root: str | os.PathLike[str], sub: str) -> str:
    """The folder ``root/sub``, checked to be no symlink leading out of ``root``.

    Raises
    ------
    PathEscapeError
        ``root/sub`` is a symlink (or sits below one) that resolves outside ``root``.
    """
    path = os.path.join(os.fspath(root), sub)
    if os.path.lexists(path) and not is_within(path, root):
        raise PathEscapeError(
            f"{path!r} is a symbolic link to {os.path.realpath(path)!r}, outside "
            f"{os.fspath(root)!r}; jupyter-mlops will not write or delete there. Replace the "
            "link by a real folder (or point the artifact root itself at the other disk).")
    return path


@dataclass(frozen=True)
class Entry:
    """One name found in a folder, described without following it if it is a link."""

    path: str
    name: str
    is_symlink: bool
    is_dir: bool  # a real directory (never a link to one)
    is_file: bool  # a real regular file (never a link to one)


def scan(folder: str) -> Iterator[Entry]:
    """The entries of ``folder``, sorted by name; nothing if it is missing or not a folder.

    Symlinks are reported (``is_symlink``) and never followed, so a walk built on this never
    enters a folder outside its root.
    """
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return
    for e in entries:
        # follow_symlinks=False answers from the directory listing itself (no stat call per
        # entry on Linux), so walking a large blob store stays cheap.
        try:
            yield Entry(e.path, e.name, e.is_symlink(), e.is_dir(follow_symlinks=False),
                        e.is_file(follow_symlinks=False))
        except FileNotFoundError:  # removed meanwhile
            continue


def files_under(folder: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Every file to copy out of ``folder``: ``(relative name, path)``, sorted by name.

    For logging a folder as an artifact. Regular files, and symlinks to files that resolve
    inside ``folder``; a symlinked folder is not entered (no loops, nothing outside), a
    dangling link is skipped. A symlink to a file *outside* ``folder`` is refused before
    anything is read: following it would copy content from elsewhere on the machine (a
    secret, another user's file) into the store under an innocent name.

    Raises
    ------
    PathEscapeError
        A file link leads outside ``folder`` (the message names the link and its target).
    """
    root = os.path.realpath(folder)
    out: list[tuple[str, str]] = []

    def walk(path: str, prefix: str) -> None:
        for e in scan(path):
            rel = f"{prefix}{e.name}"
            if e.is_dir:
                walk(e.path, f"{rel}/")
            elif e.is_file:
                out.append((rel, e.path))
            elif e.is_symlink and os.path.isfile(e.path):
                if not is_within(e.path, root):
                    raise PathEscapeError(
                        f"{e.path} is a symlink to {os.path.realpath(e.path)}, outside the "
                        f"folder {root} being logged; nothing was stored. Copy that file "
                        "into the folder, or log it on its own.")
                out.append((rel, e.path))

    walk(root, "")
    return sorted(out)


def remove_entry(path: str, root: str | os.PathLike[str]) -> None:
    """Delete one file or symlink at ``path`` (a link goes, its target stays).

    Raises
    ------
    PathEscapeError
        The folder holding ``path`` resolves outside ``root``.
    FileNotFoundError
        Nothing is there.
    IsADirectoryError
        ``path`` is a real folder (never removed recursively here).
    """
    parent = os.path.dirname(path)
    if not is_within(parent, root):
        raise PathEscapeError(
            f"Refused to delete {path!r}: its folder resolves to "
            f"{os.path.realpath(parent)!r}, outside {os.fspath(root)!r}.")
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(path)
    try:
        os.unlink(path)  # on a symlink: removes the link, never the file it points to
    except PermissionError:  # Windows will not delete a read-only file
        if stat.S_ISLNK(st.st_mode):
            raise
        os.chmod(path, stat.S_IWRITE)
        os.unlink(path)
