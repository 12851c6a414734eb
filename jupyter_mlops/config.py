"""Where the store lives: the small, documented registry of environment variables.

The kernel, the server extension and the CLI all call :func:`resolve_locations`, so they see
the same data without any configuration: a project's ``.mlops/`` folder found like git finds
``.git``, else ``~/.mlops``.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class EnvVar:
    name: str
    help: str


#: Every environment variable the library reads, with what it does (shown by `jupyter mlops env`).
ENV_VARS = {
    v.name: v
    for v in (
        EnvVar("MLOPS_TRACKING_URI", "SQLAlchemy URL of the metadata store "
               "(default: sqlite in the project's .mlops/ folder)."),
        EnvVar("MLOPS_ARTIFACT_ROOT", "Artifact folder or fsspec URL such as s3://bucket/prefix "
               "(default: .mlops/artifacts next to the store)."),
        EnvVar("MLOPS_HOME", "Folder used when no project .mlops/ is found (default: ~/.mlops)."),
        EnvVar("MLOPS_USER", "User name recorded on runs (default: the OS user)."),
        EnvVar("MLOPS_EXPERIMENT", "Experiment that new runs go to (default: 'Default')."),
        EnvVar("MLOPS_HEARTBEAT_SECONDS", "How often a live run proves it is alive (default 10)."),
        EnvVar("MLOPS_DEAD_AFTER_SECONDS", "A run silent this long is marked KILLED (default 300)."),
        EnvVar("MLOPS_EXIT_FLUSH_SECONDS", "Longest the interpreter's exit waits to write "
               "queued values (default 10); what the store has not taken by then (locked by "
               "another process, down) goes to the dead-letter file for `jupyter mlops "
               "dead-letter replay`."),
        EnvVar("MLOPS_NOTEBOOK_PATH", "Path of the notebook a kernel runs, when the front end "
               "does not say (set by pipelines)."),
        EnvVar("MLOPS_PARENT_RUN_ID", "Run that new runs are children of (set by pipelines)."),
        EnvVar("MLOPS_RUN_ID", "Attach to this existing run instead of starting a new one."),
        EnvVar("MLOPS_SEARCH_INDEX", "0 turns off the in-memory search index of SQLite stores "
               "(default on; searches then run in SQL)."),
        EnvVar("MLOPS_SEARCH_INDEX_MAX_RUNS", "Stores with more runs are searched in SQL, "
               "bounding the index's memory (default 500000)."),
        EnvVar("MLOPS_WARM_KERNELS", "0 stops pipelines from starting the next steps' kernels "
               "while the current steps run (default on; each kernel still serves one step)."),
        EnvVar("MLOPS_ARCHIVE_MAX_BYTES", "Largest total a model file or stored profile (a "
               "zip) may inflate to, in bytes or with a unit such as 4G (default 1G); larger "
               "ones are refused before decompressing."),
        EnvVar("MLOPS_ARCHIVE_MAX_RATIO", "Largest compression ratio such a zip, and each "
               "member, may have once over 16 MiB inflated (default 200); higher ones are "
               "refused as zip bombs."),
        EnvVar("MLOPS_SERVE_TOKEN", "Bearer token of `jupyter mlops serve` (default: a new "
               "one per start, printed and saved under MLOPS_HOME/runtime/)."),
        EnvVar("MLOPS_SERVE_MAX_JSON_DEPTH", "Deepest nesting of arrays/objects a request "
               "body of `jupyter mlops serve` may have (default 64; deeper ones get 400)."),
    )
}

PROJECT_DIR_NAME = ".mlops"


@dataclasses.dataclass(frozen=True)
class Locations:
    tracking_uri: str
    artifact_root: str
    #: Local folder for caches (hash cache); None when the store is remote and no project dir.
    local_dir: Path | None
    #: How the store was chosen: "argument", "environment", "project" or "home".
    source: str = "home"
    #: The same in words, naming the variable, option or folder (shown by every front door).
    reason: str = ""

    def describe(self) -> str:
        """One line naming the store (password hidden) and why it is the one in use."""
        return f"store {redact_url(self.tracking_uri)} ({self.reason})"


def redact_url(url: str) -> str:
    """Hide a password in a URL without importing SQLAlchemy (``%load_ext`` stays cheap).

    The one redaction of the package: ``store.engine.redact`` is this function, and the REST
    handlers, the CLI and the magics call it, so every front door shows a URL the same way.
    """
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host  # an IPv6 address keeps its brackets
        port = f":{parts.port}" if parts.port else ""
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}{port}"))
    except ValueError:  # a port that is not a number, …: say nothing of what it holds
        return "<unparseable URL>"


def find_project_dir(start: Path | None = None) -> Path | None:
    """Walk up from ``start`` (default: cwd) to find an existing ``.mlops`` folder."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / PROJECT_DIR_NAME
        if candidate.is_dir():
            return candidate
    return None


def default_home() -> Path:
    return Path(os.environ.get("MLOPS_HOME") or Path.home() / PROJECT_DIR_NAME)


def resolve_locations(
    tracking_uri: str | None = None, artifact_root: str | None = None, start: Path | None = None
) -> Locations:
    """Resolve the store URL and artifact root, and say why.

    Order: explicit arguments, then ``MLOPS_TRACKING_URI`` / ``MLOPS_ARTIFACT_ROOT``, then a
    project ``.mlops/`` found by walking up from ``start`` (the notebook's or pipeline file's
    folder; default the cwd), then ``MLOPS_HOME`` or ``~/.mlops``.
    """
    start_dir = (start or Path.cwd()).resolve()
    if tracking_uri:
        source, reason = "argument", "given explicitly (--tracking-uri / tracking_uri=)"
    elif os.environ.get("MLOPS_TRACKING_URI"):
        tracking_uri = os.environ["MLOPS_TRACKING_URI"]
        source, reason = "environment", "environment variable MLOPS_TRACKING_URI"
    else:
        tracking_uri = None
    artifact_root = artifact_root or os.environ.get("MLOPS_ARTIFACT_ROOT") or None
    project = find_project_dir(start_dir)
    local_dir = project or default_home()
    if tracking_uri is None:
        tracking_uri = f"sqlite:///{local_dir / 'mlops.db'}"
        if project is not None:
            source, reason = "project", (f"project folder {project}, found walking up "
                                         f"from {start_dir}")
        elif os.environ.get("MLOPS_HOME"):
            source, reason = "home", (f"environment variable MLOPS_HOME; no project .mlops/ "
                                      f"above {start_dir}")
        else:
            source, reason = "home", f"user default; no project .mlops/ above {start_dir}"
    elif tracking_uri.startswith("sqlite:///") and tracking_uri != "sqlite:///:memory:":
        local_dir = Path(tracking_uri[len("sqlite:///"):]).resolve().parent
    if artifact_root is None:
        artifact_root = str(local_dir / "artifacts")
    return Locations(tracking_uri=tracking_uri, artifact_root=artifact_root, local_dir=local_dir,
                     source=source, reason=reason)


def current_user() -> str:
    """The user recorded on runs: ``MLOPS_USER``, else the OS user."""
    user = os.environ.get("MLOPS_USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


def float_env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default
