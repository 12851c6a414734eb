"""What a run is made of besides its numbers: environment, git state, data fingerprints (P3, P4)."""

from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_mlops.extras import MissingExtraError, require
from jupyter_mlops.hashing import hash_bytes

#: Files larger than this are hashed but not parsed for schema and statistics.
SUMMARY_MAX_BYTES = 256 * 1024 * 1024
TABULAR_SUFFIXES = {".csv", ".tsv", ".parquet", ".pq", ".json", ".jsonl"}


@dataclass(frozen=True)
class EnvironmentInfo:
    digest: str
    python: str
    platform: str
    packages: dict[str, str]


@functools.lru_cache(maxsize=1)
def environment() -> EnvironmentInfo:
    """The interpreter and installed distributions, hashed (computed once per process).

    The digest keys pipeline caches and deduplicates environments, so it must not change
    with how it is computed: names and versions are exactly ``dist.metadata["Name"]`` and
    ``dist.version``, read from the metadata file's header only (parsing a few hundred whole
    METADATA files with the email parser took most of a second).

    A fresh process reuses the last result of the same interpreter when no folder on
    ``sys.path`` changed since (:func:`_saved_environment`): installing, upgrading or removing
    a distribution adds or removes a ``*.dist-info`` entry, which changes its folder's
    modification time. Reading a few hundred metadata files is otherwise the largest part of
    a fully cached pipeline run's CLI process.
    """
    key = _environment_key()
    saved = _saved_environment(key)
    if saved is not None:
        return saved
    info = _read_environment()
    _save_environment(key, info)
    return info


def _read_environment() -> EnvironmentInfo:
    from importlib import metadata

    packages: dict[str, str] = {}
    for dist in metadata.distributions():
        name, version = _name_and_version(dist)
        if name:
            packages[name.lower()] = version
    packages = dict(sorted(packages.items()))
    py = platform.python_version()
    return EnvironmentInfo(_environment_digest(py, packages), py, platform.platform(), packages)


def _environment_digest(python: str, packages: dict[str, str]) -> str:
    return hash_bytes(json.dumps([python, sys.implementation.name, packages]).encode())


def _environment_key() -> str:
    """What the distribution list depends on: the interpreter, and every ``sys.path`` entry
    with its modification time (where importlib.metadata looks for distributions)."""
    entries = []
    for entry in sys.path:
        try:
            entries.append([entry, os.stat(entry or ".").st_mtime_ns])
        except OSError:
            entries.append([entry, None])
    cwd = os.getcwd() if "" in sys.path else None  # "" is the current folder
    return hash_bytes(json.dumps([sys.executable, sys.version, sys.implementation.name,
                                  sys.prefix, cwd, entries]).encode())


def _environment_file(key: str) -> Path:
    from jupyter_mlops.config import default_home

    return default_home() / "cache" / f"environment-{key[:32]}.json"


def _saved_environment(key: str) -> EnvironmentInfo | None:
    """The saved environment for ``key``, if any and if it holds together (its digest is
    recomputed from its own packages); anything else is None and is read again."""
    try:
        doc = json.loads(_environment_file(key).read_text(encoding="utf-8"))
        packages = doc["packages"]
        ok = (doc["key"] == key and isinstance(packages, dict)
              and all(isinstance(k, str) and isinstance(v, (str, type(None)))
                      for k, v in packages.items())
              and isinstance(doc["python"], str) and isinstance(doc["platform"], str)
              and doc["digest"] == _environment_digest(doc["python"], packages))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return EnvironmentInfo(doc["digest"], doc["python"], doc["platform"], packages) if ok else None


#: Saved environments kept: each interpreter, working folder (``""`` on ``sys.path``) and
#: install state gets its own file, so without a bound they pile up; a pruned one is only
#: read again (about a second) if that environment comes back.
ENVIRONMENT_FILES_KEPT = 16
#: A temporary file of an interrupted save older than this is removed.
STALE_TMP_S = 3600


def _save_environment(key: str, info: EnvironmentInfo) -> None:
    """Write atomically (temp file, rename); a read-only or missing home just skips it.

    Then :func:`_prune_environments`: saves are rare (an install, a new folder), so the
    listing happens only when a file was written anyway.
    """
    target = _environment_file(key)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "digest": info.digest, "python": info.python,
                                   "platform": info.platform, "packages": info.packages}),
                       encoding="utf-8")
        os.replace(tmp, target)
    except OSError:
        return
    _prune_environments(target.parent, keep=target)


def _prune_environments(folder: Path, keep: Path) -> None:
    """Remove all but the newest :data:`ENVIRONMENT_FILES_KEPT` saved environments (``keep``,
    just written, always stays) and stale temporary files; errors are ignored (another
    process pruning at the same time, a read-only folder)."""
    import time

    saved, now = [], time.time()
    try:
        for entry in os.scandir(folder):
            name = entry.name
            try:
                if name.startswith("environment-") and name.endswith(".json"):
                    saved.append((entry.stat().st_mtime, name))
                elif (name.startswith(".environment-") and name.endswith(".tmp")
                      and now - entry.stat().st_mtime > STALE_TMP_S):
                    os.unlink(entry.path)
            except OSError:
                continue
    except OSError:
        return
    saved.sort(reverse=True)  # newest first
    for _, name in saved[ENVIRONMENT_FILES_KEPT:]:
        if name != keep.name:
            try:
                os.unlink(folder / name)
            except OSError:
                pass


def _name_and_version(dist) -> tuple[str | None, str | None]:
    """``Name`` and ``Version`` of a distribution, as its email-parsed metadata gives them.

    The header ends at the first empty line; header names are case-insensitive and the first
    occurrence wins (``Message.get``); continuation lines (leading whitespace) belong to the
    header before them. Anything unusual — no file path, an unreadable file, a missing
    field — falls back to importlib's own parser.
    """
    path = getattr(dist, "_path", None)
    if isinstance(path, Path) and path.is_dir():
        for filename in ("METADATA", "PKG-INFO"):
            try:
                f = open(path / filename, encoding="utf-8")
            except OSError:
                continue
            name = version = key = None
            try:
                with f:
                    for line in f:
                        if line in ("\n", "\r\n"):
                            break
                        if line[:1] in (" ", "\t"):
                            if key in ("name", "version"):
                                name = None  # a folded Name/Version: let email parse it
                                break
                            continue
                        key, _, value = line.partition(":")
                        key = key.lower()
                        # email's compat32 policy: leading blanks and the line end go.
                        value = value.lstrip(" \t").rstrip("\r\n")
                        if key == "name" and name is None:
                            name = value
                        elif key == "version" and version is None:
                            version = value
            except (OSError, UnicodeDecodeError):
                break
            if name and version is not None:
                return name, version
            break
    return dist.metadata.get("Name"), dist.version

@dataclass(frozen=True)
class GitState:
    commit: str | None
    branch: str | None
    dirty: bool | None
    diff: bytes | None


def git_state(path: str | Path) -> GitState:
    """Commit, branch and uncommitted diff of the repository holding ``path`` (if any)."""
    folder = Path(path)
    folder = folder if folder.is_dir() else folder.parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(folder), *args], capture_output=True,
                                 timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.decode(errors="replace")

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return GitState(None, None, None, None)
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") or ""
    diff = git("diff", "HEAD") if status.strip() else None
    return GitState(commit.strip(), (branch or "").strip() or None, bool(status.strip()),
                    diff.encode() if diff else None)


@dataclass(frozen=True)
class DataFingerprint:
    digest: str
    source: str | None
    size: int | None
    row_count: int | None
    schema: dict[str, str] | None
    stats: dict[str, Any] | None


def fingerprint_dataframe(df) -> DataFingerprint:
    """Hash a pandas DataFrame by content (values, index, column names and dtypes)."""
    import pandas as pd

    row_hashes = pd.util.hash_pandas_object(df, index=True).to_numpy()
    header = json.dumps([[str(c), str(t)] for c, t in df.dtypes.items()]).encode()
    digest = hash_bytes(header + row_hashes.tobytes())
    return DataFingerprint(digest, None, int(df.memory_usage(deep=False).sum()), len(df),
                           _schema(df), _stats(df))


def fingerprint_path(path: Path, digest: str) -> DataFingerprint:
    """Describe a file or folder whose content hash is already known."""
    size = _size(path)
    df = None
    if path.is_file() and path.suffix.lower() in TABULAR_SUFFIXES and size <= SUMMARY_MAX_BYTES:
        try:
            df = _read_table(path)
        except MissingExtraError:  # fixable by the user: say so rather than drop the summary
            raise
        except Exception:  # an unreadable table is still a versioned file
            df = None
    return DataFingerprint(digest, str(path.resolve()), size, len(df) if df is not None else None,
                           _schema(df) if df is not None else None,
                           _stats(df) if df is not None else None)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _read_table(path: Path):
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        require("pyarrow", "fastparquet", extra="parquet", feature="Reading a Parquet file")
        return pd.read_parquet(path)
    if suffix == ".jsonl":
        return pd.read_json(path, lines=True)
    if suffix == ".json":
        return pd.read_json(path)
    return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")


def _schema(df) -> dict[str, str]:
    return {str(c): str(t) for c, t in df.dtypes.items()}


def _stats(df, max_columns: int = 200) -> dict[str, Any]:
    """Per-column summary: nulls for all; min/max/mean/std for numeric; distinct for others."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    out: dict[str, Any] = {}
    for col in list(df.columns)[:max_columns]:
        s = df[col]
        entry: dict[str, Any] = {"nulls": int(s.isna().sum())}
        # pandas' own predicates: np.issubdtype raises on extension dtypes (pandas 3's default
        # StringDtype, Categorical, nullable Int64…).
        if is_numeric_dtype(s.dtype) and not is_bool_dtype(s.dtype):
            d = s.describe()
            entry.update({k: _num(d.get(k)) for k in ("mean", "std", "min", "max")})
        else:
            entry["distinct"] = int(s.nunique(dropna=True))
        out[str(col)] = entry
    return out


def _num(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def notebook_path_hint(user_ns: dict | None = None) -> str | None:
    """Best guess of the running notebook's path: explicit env, JupyterLab's session name."""
    for candidate in (os.environ.get("MLOPS_NOTEBOOK_PATH"),
                      (user_ns or {}).get("__session__"),
                      os.environ.get("JPY_SESSION_NAME")):
        if candidate and str(candidate).endswith(".ipynb") and Path(candidate).is_file():
            return str(Path(candidate).resolve())
    return None
