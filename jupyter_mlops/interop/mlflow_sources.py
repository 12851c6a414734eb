"""The three kinds of MLflow store an import reads, behind one small interface.

* :class:`FolderSource`: an ``mlruns/`` folder (MLflow's FileStore), parsed directly
  (``meta.yaml``, ``params/``, ``tags/``, ``metrics/`` lines ``timestamp value step``); never
  written, never followed out of its root.
* :class:`DatabaseSource`: an MLflow tracking database (``sqlite:///…``,
  ``postgresql://…``), read in bulk and read-only (:mod:`jupyter_mlops.store.mlflow_db`).
* :class:`ServerSource`: an MLflow tracking server (``http[s]://…``), through the real
  ``mlflow`` client's REST calls (the ``mlflow`` extra).

Each returns runs as plain dicts in MLflow's own units (times in milliseconds, statuses as
strings) with ``params``/``tags`` dicts and ``metrics`` as ``{key: ([values], [steps],
[timestamps_ms])}`` in logging order; :mod:`.mlflow_import` validates and converts them. Anything a source cannot read is
reported through ``note`` (one line naming what and why) and skipped, never fatal.
"""

from __future__ import annotations

import abc
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.extras import require

Note = Callable[[str], None]
#: MLflow's FileStore writes RunStatus enum numbers into meta.yaml.
_FILE_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
_NOT_EXPERIMENTS = {".trash", "models", ".mlflow"}


class MlflowSource(abc.ABC):
    """An MLflow store opened for reading; nothing here ever writes to it."""

    where: str

    @abc.abstractmethod
    def experiments(self) -> list[dict]:
        """``experiment_id``, ``name``, ``lifecycle_stage`` and ``tags`` of every experiment
        (its description is the tag ``mlflow.note.content``)."""

    @abc.abstractmethod
    def run_index(self) -> list[dict]:
        """``run_uuid``, ``experiment_id``, ``lifecycle_stage`` of every run."""

    @abc.abstractmethod
    def runs(self, ids: Sequence[str], note: Note) -> list[dict]:
        """Full runs for ``ids`` (see the module docstring for the shape)."""

    @abc.abstractmethod
    def artifact_files(self, run: dict, note: Note) -> Iterator[tuple[str, str]]:
        """``(name, local file)`` of each artifact of ``run``; escaping paths are noted."""

    @abc.abstractmethod
    def models(self) -> list[dict]:
        """Registered models with ``description``, ``tags``, ``versions`` (each with its
        ``description`` and ``tags``) and ``aliases`` ({alias: version})."""

    def model_folder(self, version: dict) -> str | None:
        """A local folder holding the files of a version not stored under a run."""
        return _local_path(version.get("storage_location") or version.get("source") or "")

    def close(self) -> None:
        """Release what the source holds open."""


def open_source(source: str) -> MlflowSource:
    """The source ``source`` names: a URL (server), a database URI, or a folder.

    Raises
    ------
    InvalidInputError
        Not an ``mlruns`` folder, not an MLflow database, or an unknown scheme.
    NotFoundError
        A folder that does not exist.
    """
    if source.startswith(("http://", "https://")):
        return ServerSource(source)
    if "://" in source and not source.startswith("file://"):
        from jupyter_mlops.store.mlflow_db import MlflowDatabase

        return DatabaseSource(MlflowDatabase(source))
    return FolderSource(_local_path(source) or source)


def _local_path(uri: str) -> str | None:
    """The local path a plain path or ``file://`` URI names; None for any other scheme."""
    if not uri:
        return None
    if uri.startswith("file:"):
        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            return None
        return unquote(parsed.path)
    if "://" in uri or uri.startswith(("runs:", "models:", "mlflow-artifacts:")):
        return None
    return uri


def _within(path: str, root: str) -> bool:
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def local_artifacts(root: str | None, run_id: str, note: Note) -> Iterator[tuple[str, str]]:
    """Files under a local artifact folder; a symlink leaving it is refused and noted."""
    if root is None or not os.path.isdir(root):
        return
    for folder, dirs, files in os.walk(root):
        for d in list(dirs):
            if os.path.islink(os.path.join(folder, d)):
                dirs.remove(d)
                note(f"artifact folder {_rel(os.path.join(folder, d), root)!r} of run {run_id}: "
                     "a symlink is not followed (it could leave the artifact root); skipped")
        for f in sorted(files):
            full = os.path.join(folder, f)
            name = _rel(full, root)
            if not _within(full, root):
                note(f"artifact {name!r} of run {run_id}: it points outside the run's "
                     "artifact root; refused")
                continue
            if not os.path.isfile(full):
                continue
            yield name, full


def _rel(path: str, root: str) -> str:
    return PurePosixPath(*Path(os.path.relpath(path, root)).parts).as_posix()


# ---------------------------------------------------------------------- database
class DatabaseSource(MlflowSource):
    def __init__(self, db):
        self.db = db
        self.where = db.where

    def experiments(self) -> list[dict]:
        return self.db.experiments()

    def run_index(self) -> list[dict]:
        return self.db.run_index()

    def runs(self, ids: Sequence[str], note: Note) -> list[dict]:
        return self.db.runs(ids)

    def artifact_files(self, run: dict, note: Note) -> Iterator[tuple[str, str]]:
        uri = run.get("artifact_uri") or ""
        root = _local_path(uri)
        if root is None:
            note(f"artifacts of run {run['run_uuid']}: {uri[:80]!r} is not a local folder; "
                 "import from the MLflow server's URL to copy them")
            return iter(())
        return local_artifacts(root, run["run_uuid"], note)

    def models(self) -> list[dict]:
        return self.db.models()

    def close(self) -> None:
        self.db.close()


# ---------------------------------------------------------------------- folder
class FolderSource(MlflowSource):
    """An ``mlruns`` folder, read file by file (``yaml`` with its C loader when present)."""

    def __init__(self, root: str):
        path = Path(root).expanduser()
        if not path.exists():
            raise NotFoundError(f"{root} does not exist: give an MLflow mlruns folder, an "
                                "MLflow database URI or a tracking server URL.")
        if not path.is_dir() or not any((p / "meta.yaml").is_file()
                                        for p in path.iterdir() if p.is_dir()):
            raise InvalidInputError(
                f"{root} is not an MLflow mlruns folder (no experiment folder with a "
                "meta.yaml); give the folder MLflow writes to (./mlruns), a database URI or "
                "a server URL. Nothing was written to it.")
        self.root = str(path)
        self.where = self.root
        self._runs: dict[str, Path] = {}

    def _yaml(self, path: Path) -> dict:
        """A ``meta.yaml``: MLflow writes flat ``key: scalar`` lines, read here directly;
        anything else goes to PyYAML's safe loader."""
        with open(path, "rb") as f:
            raw = f.read()
        flat = _flat_yaml(raw)
        if flat is not None:
            return flat
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(raw, Loader=loader)  # noqa: S506 - a safe loader
        return data if isinstance(data, dict) else {}

    def experiments(self) -> list[dict]:
        out = []
        for d in sorted(Path(self.root).iterdir()):
            meta = d / "meta.yaml"
            if d.name in _NOT_EXPERIMENTS or d.is_symlink() or not meta.is_file():
                continue
            m = self._yaml(meta)
            out.append({"experiment_id": str(m.get("experiment_id", d.name)),
                        "name": str(m.get("name") or d.name),
                        "lifecycle_stage": m.get("lifecycle_stage", "active"), "_dir": d,
                        "tags": self._tags(d, f"experiment {d.name}")})
        return out

    def run_index(self) -> list[dict]:
        index = []
        for exp in self.experiments():
            with os.scandir(exp["_dir"]) as it:
                for entry in it:
                    if not entry.is_dir(follow_symlinks=False) or entry.name in _NOT_EXPERIMENTS:
                        continue
                    meta = Path(entry.path) / "meta.yaml"
                    if not meta.is_file():
                        continue
                    self._runs[entry.name] = Path(entry.path)
                    index.append({"run_uuid": entry.name,
                                  "experiment_id": exp["experiment_id"], "lifecycle_stage": None})
        return index

    def runs(self, ids: Sequence[str], note: Note) -> list[dict]:
        out = []
        for run_id in ids:
            d = self._runs[run_id]
            m = self._yaml(d / "meta.yaml")
            status = m.get("status")
            out.append({
                "run_uuid": str(m.get("run_id") or run_id), "name": m.get("run_name"),
                "user_id": m.get("user_id"), "experiment_id": str(m.get("experiment_id", "")),
                "status": _FILE_STATUS.get(status, status) if isinstance(status, int)
                else status,
                "start_time": m.get("start_time"), "end_time": m.get("end_time"),
                "lifecycle_stage": m.get("lifecycle_stage", "active"),
                "artifact_uri": m.get("artifact_uri"), "_dir": d,
                "params": dict(self._values(d, "params", run_id, note)),
                "tags": dict(self._values(d, "tags", run_id, note)),
                "metrics": self._metrics(d, run_id, note)})
        return out

    def _files(self, d: Path, kind: str, run_id: str, note: Note) -> Iterator[tuple[str, str]]:
        """``(key, path)`` of each file under the run's ``kind`` folder; MLflow stores a key
        with ``/`` as nested folders. Symlinked folders are not entered; a symlinked file
        pointing out of the folder is refused."""
        top = os.path.join(d, kind)
        stack = [(top, "")]
        while stack:
            folder, prefix = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for e in entries:
                key = prefix + e.name
                if e.is_symlink():
                    if e.is_dir() or not _within(e.path, top):
                        note(f"{kind[:-1]} {key!r} of run {run_id}: a symlink out of the "
                             "run folder; refused")
                        continue
                    yield key, e.path
                elif e.is_dir(follow_symlinks=False):
                    stack.append((e.path, key + "/"))
                elif e.is_file(follow_symlinks=False):
                    yield key, e.path

    def _text(self, raw: bytes, what: str, note: Note) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            note(f"{what}: not valid UTF-8; imported with U+FFFD replacement characters")
            return raw.decode("utf-8", "replace")

    def _tags(self, d: Path, what: str) -> dict[str, str]:
        """The ``tags/`` files of an experiment, model or version folder (MLflow's FileStore
        keeps them as one file per key, as a run's); unreadable ones are left out."""
        out = {}
        for key, path in self._files(d, "tags", what, lambda _: None):
            with open(path, "rb") as f:
                out[key] = f.read().decode("utf-8", "replace")
        return out

    def _values(self, d: Path, kind: str, run_id: str, note: Note):
        for key, path in self._files(d, kind, run_id, note):
            with open(path, "rb") as f:
                raw = f.read()
            yield key, self._text(raw, f"{kind[:-1]} {key!r} of run {run_id}", note)

    def _metrics(self, d: Path, run_id: str, note: Note) -> dict:
        out = {}
        for key, path in self._files(d, "metrics", run_id, note):
            with open(path, "rb") as f:
                data = f.read()
            parts, lines = data.split(), data.count(b"\n") + (not data.endswith(b"\n"))
            try:  # the usual file: every line "timestamp value step"
                if len(parts) != 3 * lines:
                    raise ValueError
                out[key] = (list(map(float, parts[1::3])), list(map(int, parts[2::3])),
                            list(map(int, parts[0::3])))
                continue
            except ValueError:
                pass
            values, steps, stamps = out[key] = ([], [], [])
            bad = 0
            for line in data.splitlines():
                fields = line.split()
                try:
                    ts, value = int(fields[0]), float(fields[1])
                    step = int(fields[2]) if len(fields) > 2 else 0
                except (IndexError, ValueError):
                    bad += 1
                    continue
                values.append(value)
                steps.append(step)
                stamps.append(ts)
            if bad:
                note(f"metric {key!r} of run {run_id}: {bad} unreadable line(s) skipped")
        return out

    def artifact_files(self, run: dict, note: Note) -> Iterator[tuple[str, str]]:
        root = _local_path(run.get("artifact_uri") or "")
        if root is None or not os.path.isdir(root):
            root = str(run["_dir"] / "artifacts")  # a moved mlruns folder
        return local_artifacts(root, run["run_uuid"], note)

    def models(self) -> list[dict]:
        top = Path(self.root) / "models"
        if not top.is_dir():
            return []
        out = []
        for d in sorted(top.iterdir()):
            if d.is_symlink() or not (d / "meta.yaml").is_file():
                continue
            m = self._yaml(d / "meta.yaml")
            name = str(m.get("name") or d.name)
            versions = []
            for v in sorted(d.glob("version-*/meta.yaml")):
                vm = self._yaml(v)
                versions.append({
                    "name": name, "version": int(vm.get("version", 0)),
                    "creation_time": vm.get("creation_timestamp"),
                    "description": vm.get("description"), "user_id": vm.get("user_id"),
                    "current_stage": vm.get("current_stage"), "source": vm.get("source"),
                    "run_id": vm.get("run_id"), "status": vm.get("status"),
                    "storage_location": vm.get("storage_location"),
                    "tags": self._tags(v.parent, f"model {name!r} {v.parent.name}")})
            aliases = {}
            for a, v in (m.get("aliases") or {}).items():
                try:
                    aliases[str(a)] = int(v)
                except (TypeError, ValueError):
                    continue
            out.append({"name": name, "description": m.get("description"),
                        "creation_time": m.get("creation_timestamp"),
                        "last_updated_time": m.get("last_updated_timestamp"),
                        "versions": versions, "aliases": aliases,
                        "tags": self._tags(d, f"model {name!r}")})
        return out


# ---------------------------------------------------------------------- server
class ServerSource(MlflowSource):
    """A tracking server through ``mlflow.MlflowClient`` (REST): search pages of runs, one
    history call per metric key, artifacts downloaded into a private temporary folder."""

    def __init__(self, url: str):
        require("mlflow", extra="mlflow", feature="Importing from an MLflow tracking server")
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=url)
        self.where = url
        self._found: dict[str, object] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="mlops-import-")

    def experiments(self) -> list[dict]:
        from mlflow.entities import ViewType

        return [{"experiment_id": e.experiment_id, "name": e.name,
                 "lifecycle_stage": e.lifecycle_stage, "tags": dict(e.tags or {})}
                for e in self.client.search_experiments(view_type=ViewType.ALL)]

    def run_index(self) -> list[dict]:
        from mlflow.entities import ViewType

        ids = [e["experiment_id"] for e in self.experiments()]
        token, index = None, []
        while ids:
            page = self.client.search_runs(ids, run_view_type=ViewType.ALL, max_results=1000,
                                           page_token=token)
            for r in page:
                self._found[r.info.run_id] = r
                index.append({"run_uuid": r.info.run_id, "experiment_id": r.info.experiment_id,
                              "lifecycle_stage": r.info.lifecycle_stage})
            token = page.token
            if not token:
                break
        return index

    def runs(self, ids: Sequence[str], note: Note) -> list[dict]:
        out = []
        for run_id in ids:
            r = self._found.get(run_id) or self.client.get_run(run_id)
            metrics = {}
            for key in r.data.metrics:
                hist = self.client.get_metric_history(run_id, key)
                metrics[key] = ([m.value for m in hist], [m.step for m in hist],
                                [m.timestamp for m in hist])
            out.append({"run_uuid": run_id, "name": r.info.run_name, "user_id": r.info.user_id,
                        "status": r.info.status, "start_time": r.info.start_time,
                        "end_time": r.info.end_time, "lifecycle_stage": r.info.lifecycle_stage,
                        "artifact_uri": r.info.artifact_uri,
                        "experiment_id": r.info.experiment_id, "params": dict(r.data.params),
                        "tags": dict(r.data.tags), "metrics": metrics})
        return out

    def artifact_files(self, run: dict, note: Note) -> Iterator[tuple[str, str]]:
        run_id = run["run_uuid"]
        dest = os.path.join(self._tmp.name, run_id)
        stack = [None]
        while stack:
            for f in self.client.list_artifacts(run_id, stack.pop()):
                path = PurePosixPath(f.path)
                if (f.path.startswith("/") or ".." in path.parts or "\\" in f.path
                        or not f.path or "\x00" in f.path):
                    note(f"artifact {f.path[:80]!r} of run {run_id}: the path leaves the "
                         "run's artifact root; refused")
                    continue
                if f.is_dir:
                    stack.append(f.path)
                    continue
                local = self.client.download_artifacts(run_id, f.path, dest)
                if not _within(local, dest):
                    note(f"artifact {f.path[:80]!r} of run {run_id}: downloaded outside its "
                         "folder; refused")
                    continue
                yield f.path, local

    def models(self) -> list[dict]:
        out = []
        for m in self.client.search_registered_models(max_results=1000):
            versions = [{
                "name": v.name, "version": int(v.version), "creation_time": v.creation_timestamp,
                "description": v.description, "user_id": v.user_id,
                "current_stage": v.current_stage, "source": v.source, "run_id": v.run_id,
                "status": v.status, "storage_location": None, "tags": dict(v.tags or {})}
                for v in self.client.search_model_versions(f"name = '{_quote(m.name)}'")]
            out.append({"name": m.name, "description": m.description,
                        "creation_time": m.creation_timestamp,
                        "last_updated_time": m.last_updated_timestamp,
                        "versions": sorted(versions, key=lambda v: v["version"]),
                        "aliases": {a: int(v) for a, v in (m.aliases or {}).items()},
                        "tags": dict(m.tags or {})})
        return out

    def model_folder(self, version: dict) -> str | None:
        source = version.get("source") or ""
        if not source.startswith("models:/"):
            return None
        dest = os.path.join(self._tmp.name, "models", f"{version['name']}-{version['version']}")
        from mlflow.artifacts import download_artifacts

        return download_artifacts(artifact_uri=source, dst_path=dest,
                                  tracking_uri=self.where)

    def close(self) -> None:
        self._tmp.cleanup()


_PLAIN = re.compile(r"-?\d{1,19}")


def _flat_yaml(raw: bytes) -> dict | None:
    """``key: value`` lines with plain or single-quoted scalars (what MLflow's FileStore
    writes for runs); None for anything else, which then goes to a real YAML parser."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    out: dict = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if not sep:
            if line.endswith(":") or not line.strip():
                return None
            return None
        value = value.strip()
        if not key or key[0] in " -#" or value[:1] in ('"', "{", "|", ">", "&", "*", "!"):
            return None
        if value == "[]":
            out[key] = []
        elif value.startswith("'"):
            if not value.endswith("'") or len(value) < 2:
                return None
            out[key] = value[1:-1].replace("''", "'")
        elif value in ("null", "~"):
            out[key] = None
        elif _PLAIN.fullmatch(value):
            out[key] = int(value)
        elif value.startswith("[") or value in ("true", "false", "True", "False") or (
                ": " in value or " #" in value):
            return None
        else:
            try:
                float(value)
                return None  # leave floats and their YAML spellings to YAML
            except ValueError:
                out[key] = value
    return out


def _quote(name: str) -> str:
    return name.replace("'", "\\'")


def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
