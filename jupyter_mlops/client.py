"""The explicit client: the one API every front door (fluent functions, magics, REST, CLI) calls.

It validates input, buffers hot-path logging through :class:`BatchWriter`, and turns files and
Python objects into content-addressed artifacts and versioned datasets.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import mimetypes
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.config import current_user
from jupyter_mlops.display import RunList
from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.extras import require
from jupyter_mlops.store import Store, open_store
from jupyter_mlops.store.labels import check_label
from jupyter_mlops.store.records import (
    ArtifactRecord,
    DatasetVersionRecord,
    ExperimentRecord,
    LineageGraph,
    MetricPoint,
    RunDetail,
    RunRecord,
)
from jupyter_mlops.tracking.buffer import BatchWriter
from jupyter_mlops.tracking.dead_letter import DeadLetterFile, ReplayReport
# The one validation layer lives in jupyter_mlops.validation; these names stay importable
# from here for existing callers.
from jupyter_mlops.validation import (  # noqa: F401
    INT64_MAX,
    INT64_MIN,
    MAX_KEY,
    MAX_PARAM_VALUE,
    check_key,
    check_run_id,
    check_step,
    check_timestamp,
    to_metric_value,
    to_param_value,
)

if TYPE_CHECKING:  # the registry is imported on first use: `import jupyter_mlops` stays light
    from jupyter_mlops.registry.api import RegistryClient


def _mapping(values: Any, what: str) -> Mapping:
    if not isinstance(values, Mapping):
        raise InvalidInputError(
            f"{what} must be a mapping of names to values (a dict), got "
            f"{type(values).__name__}.")
    return values


class Client:
    """Read and write one store.

    Parameters
    ----------
    tracking_uri : str, optional
        SQLAlchemy URL; defaults to ``MLOPS_TRACKING_URI`` or the project's ``.mlops/mlops.db``.
    artifact_root : str, optional
        Folder or fsspec URL for artifact blobs; defaults to ``MLOPS_ARTIFACT_ROOT`` or
        ``.mlops/artifacts``.
    """

    def __init__(self, tracking_uri: str | None = None, artifact_root: str | None = None, *,
                 start: Path | None = None):
        from jupyter_mlops.config import resolve_locations

        #: Which store and why (``location.describe()``): front doors show it, errors name it.
        #: ``start`` is where a project ``.mlops/`` is looked for (the notebook's, pipeline
        #: file's or server root's folder; default the cwd).
        self.location = resolve_locations(tracking_uri, artifact_root, start)
        self.store: Store = open_store(self.location.tracking_uri, self.location.artifact_root)
        self.writer = BatchWriter(self.store.runs)
        self._steps: dict[tuple[str, str], int] = {}
        self._checked_keys: set[str] = set()  # metric names already validated
        self._checked_runs: set[str] = set()  # run ids already validated
        self._steps_lock = threading.Lock()
        self._env_id: int | None = None
        self._env_lock = threading.Lock()
        self._env_pending: list[str] = []  # runs created before the environment was known
        self._env_thread: threading.Thread | None = None
        self._hash_cache = None

    @property
    def tracking_uri(self) -> str:
        return self.store.url

    @functools.cached_property
    def registry(self) -> RegistryClient:
        """The model registry on this client's store (built once, on first use).

        Its ``require_reproduced`` gate re-executes runs through *this* client, so it reads
        the store the client was opened on, never the process default.
        """
        from jupyter_mlops.pipelines.reproduce import reproduce_check
        from jupyter_mlops.registry.api import RegistryClient

        return RegistryClient(self, reproduce_check=functools.partial(reproduce_check,
                                                                      client=self))

    def close(self) -> None:
        """Write everything still queued and stop the writer thread (idempotent).

        Exit does this anyway; call it (or use ``with Client(...) as client:``) in long-lived
        processes that are done with a store.
        """
        self._environment_recorded()
        self.writer.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ experiments & runs
    def list_experiments(self) -> list[ExperimentRecord]:
        return self.store.runs.list_experiments()

    def create_experiment(self, name: str) -> ExperimentRecord:
        return self.store.runs.get_or_create_experiment(name)

    def create_run(self, experiment: str | None = None, name: str | None = None,
                   tags: Mapping[str, Any] | None = None, parent_run_id: str | None = None,
                   user: str | None = None) -> RunRecord:
        """Start a RUNNING run; the environment is recorded and heartbeats begin."""
        clean = {check_key(k, "tag key"): to_param_value(k, v, "tag")
                 for k, v in _mapping(tags or {}, "tags").items()}
        if name is not None:
            check_label(name, "run name")
        if parent_run_id is not None:
            check_run_id(parent_run_id)
        env_id = self._env_id
        run = self.store.runs.create_run(
            experiment=experiment, name=name, user=user or current_user(),
            parent_run_id=parent_run_id, tags=clean, environment_id=env_id)
        if env_id is None:
            self._record_environment(run.id)
        self.writer.watch(run.id)
        return run

    def attach_run(self, run_id: str) -> RunRecord:
        """Continue logging to an existing RUNNING run from this process.

        The run stays owned by the process that started it: this process is recorded as an
        attached writer, sends heartbeats while it lives, and its exit never ends the run nor
        lets ``gc`` mark it KILLED while the owner is alive.
        """
        run = self.store.runs.get_run(run_id)
        if run.status != "RUNNING":
            from jupyter_mlops.errors import ConflictError

            raise ConflictError(f"Run {run_id} is {run.status}; only RUNNING runs can be attached.")
        self.store.runs.attach(run_id)
        self.writer.watch(run_id)
        return run

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        """Flush what is queued, then close the run with ``status`` (``run_id``: or a prefix)."""
        run_id = self._full_run_id(run_id)
        self.writer.unwatch(run_id)
        self.flush()
        self._environment_recorded()
        self.store.runs.end_run(run_id, status)

    def _record_environment(self, run_id: str) -> None:
        """Record the environment of ``run_id``, computed off the caller's path.

        Reading the installed distributions takes tens of milliseconds to seconds (a few
        hundred metadata files): the first run of a process would wait for it. A thread
        computes it once per client and links every run created meanwhile;
        :meth:`_environment_recorded` waits for it before a run ends or is read.
        """
        with self._env_lock:
            if self._env_id is None:
                self._env_pending.append(run_id)
                if self._env_thread is None:
                    self._env_thread = threading.Thread(
                        target=self._capture_environment, name="mlops-environment",
                        daemon=True)
                    self._env_thread.start()
                return
        self._environment_store().set_run_environment(run_id, self._env_id)

    def _environment_store(self):
        """Where environments are written: the stdlib writer of a SQLite file, else catalog."""
        from jupyter_mlops.store.lite import LiteRunStore

        runs = self.store.runs
        return runs if isinstance(runs, LiteRunStore) else self.store.catalog

    def _capture_environment(self) -> None:
        import logging

        from jupyter_mlops.tracking.capture import environment

        try:
            env = environment()
            target = self._environment_store()
            env_id = target.get_or_create_environment(
                env.digest, env.python, env.platform, env.packages)
            with self._env_lock:
                self._env_id = env_id
                pending, self._env_pending = self._env_pending, []
            for run_id in pending:
                target.set_run_environment(run_id, env_id)
        except Exception as exc:  # a run without its environment beats a lost run
            logging.getLogger(__name__).warning(
                "jupyter-mlops: could not record the environment of runs %s: %s",
                ", ".join(self._env_pending), exc)

    def _environment_recorded(self) -> None:
        """Wait until the environment thread (if any) has linked every run created so far."""
        thread = self._env_thread
        if thread is not None:
            thread.join()

    def rename_run(self, run_id: str, name: str) -> RunRecord:
        return self.store.runs.rename_run(run_id, check_label(name, "run name"))

    def delete_run(self, run_id: str) -> None:
        self.store.runs.delete_run(self._full_run_id(run_id))

    # ------------------------------------------------------------------ logging (buffered)
    def log_metric(self, run_id: str, key: str, value: Any, step: int | None = None,
                   timestamp: float | None = None) -> None:
        """Queue one metric point; invalid input raises InvalidInputError here, never at flush.

        Raises
        ------
        InvalidInputError
            A malformed run id or key, a value that is not a number (or beyond the float
            range), a step outside int64, or a timestamp outside 1970..9999 (epoch seconds).
        """
        # Hot path (≈ µs): exact-type fast paths first, full validation only for the rest.
        if type(run_id) is not str or run_id not in self._checked_runs:
            self._checked_runs.add(check_run_id(run_id))
        if type(key) is not str or key not in self._checked_keys:
            self._checked_keys.add(check_key(key, "metric name"))
        v = value if type(value) is float else to_metric_value(key, value)
        if type(step) is int and INT64_MIN <= step < INT64_MAX:
            # One dict store is atomic under the GIL: no lock needed for explicit steps.
            self._steps[(run_id, key)] = step + 1
        else:
            step = self._next_step(run_id, key, step)
        self.writer.add_metric(run_id, key, v, step,
                               time.time() if timestamp is None else check_timestamp(timestamp))

    def log_metrics(self, run_id: str, metrics: Mapping[str, Any], step: int | None = None,
                    timestamp: float | None = None) -> None:
        """Queue several metrics at one step; one invalid entry refuses them all."""
        if type(run_id) is not str or run_id not in self._checked_runs:
            self._checked_runs.add(check_run_id(run_id))
        ts = time.time() if timestamp is None else check_timestamp(timestamp)
        known = self._checked_keys
        rows = []
        for k, val in _mapping(metrics, "metrics").items():  # validate all: a bad one logs none
            if type(k) is not str or k not in known:
                known.add(check_key(k, "metric name"))
            rows.append((k, val if type(val) is float else to_metric_value(k, val)))
        if type(step) is int and INT64_MIN <= step < INT64_MAX:
            steps = self._steps
            for k, _v in rows:
                steps[(run_id, k)] = step + 1
            self.writer.add_metrics(run_id, [(k, v, step, ts) for k, v in rows])
        else:
            if step is not None:
                step = check_step(step)
            self.writer.add_metrics(run_id, [(k, v, self._next_step(run_id, k, step), ts)
                                             for k, v in rows])

    def _next_step(self, run_id: str, key: str, step: int | None) -> int:
        """Default steps count up per series (0, 1, 2…) so curves plot without bookkeeping."""
        if step is not None:
            step = check_step(step)
        with self._steps_lock:
            s = self._steps.get((run_id, key), 0) if step is None else step
            if s > INT64_MAX:
                raise InvalidInputError(
                    f"The next automatic step of metric {key!r} would pass the 64-bit integer "
                    f"range (the last step logged was {INT64_MAX}); pass step= explicitly.")
            self._steps[(run_id, key)] = s + 1
        return s

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self.log_params(run_id, {key: value})

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Queue params (text up to 6,000 characters); one invalid entry refuses them all."""
        check_run_id(run_id)
        clean = {check_key(k, "param name"): to_param_value(k, v, "param")
                 for k, v in _mapping(params, "params").items()}
        self.writer.add_params(run_id, clean)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.set_tags(run_id, {key: value})

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Queue tags (text up to 6,000 characters); one invalid entry refuses them all."""
        check_run_id(run_id)
        clean = {check_key(k, "tag key"): to_param_value(k, v, "tag")
                 for k, v in _mapping(tags, "tags").items()}
        self.writer.add_tags(run_id, clean)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove one tag; NotFoundError if the run does not have it."""
        check_run_id(run_id)
        self.writer.flush()  # a queued set_tag of the same key must not land afterwards
        self.store.runs.delete_tag(run_id, check_key(key, "tag key"))

    def flush(self) -> None:
        """Make everything logged so far durable."""
        self.writer.flush()

    def dead_letter(self) -> DeadLetterFile:
        """The file where rows the store refused at write time were set aside.

        ``dead_letter().rows()`` lists them; see :mod:`jupyter_mlops.tracking.dead_letter`.
        """
        return self.writer.dead_letter_file()

    def replay_dead_letter(self, drop: bool = False) -> ReplayReport:
        """Re-validate the rows set aside and write those the store now accepts.

        Rows still refused stay in the file, or are removed with ``drop=True``.
        """
        return self.dead_letter().replay(self.store.runs, drop=drop)

    # ------------------------------------------------------------------ artifacts
    def log_artifact(self, run_id: str, obj: Any, name: str | None = None,
                     kind: str = "artifact") -> list[ArtifactRecord]:
        """Store a file, a folder, bytes, a JSON-able value, a DataFrame or a figure."""
        if isinstance(obj, (str, Path)):
            path = Path(obj).expanduser()
            if not path.exists():
                raise NotFoundError(f"No file or folder at {str(obj)!r}: check the path.")
            if path.is_dir():
                from jupyter_mlops.store.safe_paths import files_under

                # Listed (and links leading outside refused) before the first file is stored.
                return [self._put_file(run_id, Path(f), f"{name or path.name}/{rel}", kind)
                        for rel, f in files_under(path)]
            return [self._put_file(run_id, path, name or path.name, kind)]
        if hasattr(obj, "savefig"):
            return [self.log_figure(run_id, obj, name or "figure.png")]
        if name is None:
            raise InvalidInputError("Give a name when logging an in-memory object as an artifact.")
        data, media = _serialise(obj, name)
        info = self.store.blobs.put_bytes(data)
        return [self.store.catalog.add_artifact(run_id, name, info.digest, info.size, media, kind)]

    def _put_file(self, run_id: str, path: Path, name: str, kind: str) -> ArtifactRecord:
        info = self.store.blobs.put_file(path)
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return self.store.catalog.add_artifact(run_id, name, info.digest, info.size, media, kind)

    def log_figure(self, run_id: str, fig: Any, name: str = "figure.png") -> ArtifactRecord:
        fmt = Path(name).suffix.lstrip(".").lower() or "png"
        if fmt not in ("png", "svg", "pdf", "jpg", "jpeg"):
            raise InvalidInputError(f"Figures are saved as png, svg, pdf or jpg, not {fmt!r}.")
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, bbox_inches="tight")
        info = self.store.blobs.put_bytes(buf.getvalue())
        media = mimetypes.guess_type(f"x.{fmt}")[0] or "application/octet-stream"
        return self.store.catalog.add_artifact(run_id, name if "." in name else f"{name}.png",
                                               info.digest, info.size, media, "figure")

    def list_artifacts(self, run_id: str) -> list[ArtifactRecord]:
        return self.store.catalog.list_artifacts(run_id)

    def read_artifact(self, run_id: str, name: str) -> tuple[ArtifactRecord, bytes]:
        """The artifact's record and bytes, verified against its hash."""
        record = self.store.catalog.get_artifact(self._full_run_id(run_id), name)
        return record, self.store.blobs.get_bytes(record.digest)

    def download_artifact(self, run_id: str, name: str, dest: str | Path) -> Path:
        """Copy an artifact, or a folder of artifacts, out of the store; return where it went.

        A file artifact is written to ``dest``, or into ``dest`` under its base name when
        ``dest`` is a folder. A folder logged with :meth:`log_artifact` (artifacts named
        ``<name>/…``) is written below ``dest/<base name>`` when ``dest`` is a folder, else
        below ``dest``. Every file is verified against its hash.

        Raises
        ------
        NotFoundError
            The run has no artifact (nor folder of artifacts) called ``name``.
        PathEscapeError
            A stored name would land outside the destination (``..``, an absolute name, a
            symbolic link leading elsewhere). Stored names are data, not trusted paths: all
            are checked before anything is written, and nothing is written outside ``dest``.
        """
        from jupyter_mlops.store.safe_paths import join_under

        dest = Path(dest)
        try:
            record = self.store.catalog.get_artifact(run_id, name)
        except NotFoundError:
            prefix = name.rstrip("/") + "/"
            members = [a for a in self.store.catalog.list_artifacts(run_id)
                       if a.name.startswith(prefix)]
            if not members or prefix == "/":
                raise
            base = dest
            if dest.is_dir():
                base = join_under(dest, Path(prefix.rstrip("/")).name or prefix, "artifact name")
            targets = [(a, join_under(base, a.name[len(prefix):], "artifact name"))
                       for a in members]
            for a, target in targets:
                target.parent.mkdir(parents=True, exist_ok=True)
                join_under(base, a.name[len(prefix):], "artifact name")  # again, now it exists
                self.store.blobs.copy_to(a.digest, target)
            return base
        if dest.is_dir():
            dest = join_under(dest, Path(record.name).name or record.name, "artifact name")
        self.store.blobs.copy_to(record.digest, dest)
        return dest

    # ------------------------------------------------------------------ datasets
    def log_dataset(self, run_id: str | None, data: Any, name: str,
                    role: str = "input") -> DatasetVersionRecord:
        """Version a file, folder, DataFrame or numpy array by content; link it to the run."""
        from jupyter_mlops.tracking.capture import fingerprint_dataframe, fingerprint_path

        if role not in ("input", "output"):
            raise InvalidInputError(f"role must be 'input' or 'output', not {role!r}.")
        check_label(name, "dataset name")
        if isinstance(data, (str, Path)):
            path = Path(data).expanduser()
            if not path.exists():
                raise NotFoundError(f"No file or folder at {str(data)!r}: check the path.")
            digest = self.hash_cache().hash(path)
            # A version with this content is returned as recorded: skip reading the table
            # for statistics (pandas), e.g. for every cached pipeline step's outputs.
            known = self.store.catalog.find_dataset_version(name, digest)
            fp = None if known is not None else fingerprint_path(path, digest)
        elif hasattr(data, "dtypes") and hasattr(data, "columns"):
            known, fp = None, fingerprint_dataframe(data)
        elif _is_ndarray(data):
            known, fp = None, _fingerprint_array(data)
        else:
            raise InvalidInputError(
                f"Cannot log a {type(data).__module__}.{type(data).__qualname__} as a dataset: "
                "pass a file or folder path, a pandas DataFrame or a numpy array (convert "
                "other data with pandas.DataFrame(...) or numpy.asarray(...)).")
        record = known if fp is None else self.store.catalog.add_dataset_version(
            name, fp.digest, source=fp.source, size=fp.size, row_count=fp.row_count,
            schema=fp.schema, stats=fp.stats, run_id=run_id)
        if run_id:
            if role == "input":
                self.store.lineage.add_edge("dataset", str(record.id), "run", run_id, "input")
            else:
                self.store.lineage.add_edge("run", run_id, "dataset", str(record.id), "produced")
        from dataclasses import replace

        return replace(record, role=role)

    def hash_cache(self):
        if self._hash_cache is None:
            from jupyter_mlops.hashing import HashCache

            local = self.store.local_dir
            self._hash_cache = HashCache(str(local / "hashcache.sqlite") if local else None)
        return self._hash_cache

    def get_dataset(self, name: str, version: int | None = None) -> DatasetVersionRecord:
        return self.store.catalog.get_dataset(name, version)

    def list_datasets(self, name: str | None = None) -> list[DatasetVersionRecord]:
        return self.store.catalog.list_dataset_versions(name)

    # ------------------------------------------------------------------ code snapshots
    def log_notebook(self, run_id: str, notebook: Mapping | bytes,
                     path: str | None = None, git_dir: str | None = None) -> None:
        """Store the notebook (nbformat JSON) that produced the run, with its git state.

        The git state is that of ``path``'s repository, else of ``git_dir`` (a kernel whose
        notebook file is unknown passes its working folder: the code is still in a repo).
        """
        from jupyter_mlops.tracking.capture import git_state

        data = notebook if isinstance(notebook, bytes) else json.dumps(
            notebook, sort_keys=True, ensure_ascii=False).encode()
        info = self.store.blobs.put_bytes(data)
        where = path or git_dir
        git = git_state(where) if where else None
        diff_digest = self.store.blobs.put_bytes(git.diff).digest if git and git.diff else None
        self.store.catalog.add_code_snapshot(
            run_id, info.digest, notebook_path=path, git_commit=git and git.commit,
            git_branch=git and git.branch, git_dirty=git and git.dirty,
            git_diff_digest=diff_digest)

    def notebook_snapshot(self, run_id: str) -> dict:
        run_id = self._full_run_id(run_id)
        snap = self.store.catalog.code_snapshot(run_id)
        if snap is None:
            self.store.runs.get_run(run_id)
            raise NotFoundError(f"Run {run_id} has no notebook snapshot.")
        return json.loads(self.store.blobs.get_bytes(snap.digest))

    def mark_not_reproducible(self, run_id: str, reason: str) -> None:
        self.store.runs.mark_not_reproducible(run_id, reason)

    def mark_reproducible(self, run_id: str) -> None:
        self.store.runs.mark_reproducible(run_id)

    def add_lineage(self, src: str, dst: str, relation: str) -> None:
        from jupyter_mlops.store.lineage import parse_node

        (st, si), (dt, di) = parse_node(src), parse_node(dst)
        self.store.lineage.add_edge(st, si, dt, di, relation)

    # ------------------------------------------------------------------ reads
    def get_run(self, run_id: str) -> RunDetail:
        self.flush()  # read-your-writes within one process
        self._environment_recorded()
        run_id = self._full_run_id(run_id)
        run = self.store.runs.get_run(run_id)
        cat = self.store.catalog
        from sqlalchemy import select

        from jupyter_mlops.store.engine import read_connection
        from jupyter_mlops.store.orm import Run

        with read_connection(self.store.url) as conn:
            children = list(conn.execute(select(Run.id).where(Run.parent_run_id == run_id)
                                         .order_by(Run.start_time)).scalars())
        return RunDetail(run=run, metric_keys=self.store.runs.metric_keys(run_id),
                         artifacts=cat.list_artifacts(run_id), datasets=cat.datasets_of_run(run_id),
                         code=cat.code_snapshot(run_id), environment=cat.environment_of_run(run_id),
                         children=children)

    def resolve_run_id(self, text: str) -> str:
        """A full run id from a full id or a unique prefix (tables print the first 12)."""
        return self.resolve_id("run", text)

    def _full_run_id(self, run_id: Any) -> str:
        # Our generated ids are 32 characters: those go straight to the store (which says
        # "does not exist"), sparing the hot paths a query; anything else may be a prefix.
        if isinstance(run_id, str) and len(run_id) == 32:
            return run_id
        return self.resolve_id("run", run_id)

    def resolve_id(self, kind: str, text: Any) -> str:
        """The one id of kind ``run``, ``dataset``, ``artifact`` or ``model`` that ``text`` names.

        ``text`` is a full id or, like git, a unique prefix of at least 4 characters (a run
        id, a dataset's or model file's digest; ``name/version`` for a model version).
        Other lineage kinds (cell, pipeline, monitor) are returned unchanged.

        Raises
        ------
        NotFoundError
            Nothing has that id or prefix in this store (the message names the store).
        InvalidInputError
            ``text`` cannot be an id, or the prefix matches several records (the message
            lists up to 5 of them, with their names).
        """
        from jupyter_mlops.store.ids import MIN_PREFIX, find_ids

        text = str(getattr(text, "id", text)).strip()
        if kind == "run":
            check_run_id(text)
        elif not text or len(text) > 256:
            raise InvalidInputError(f"{text[:40]!r} is not a {kind} id (1–256 characters).")
        matches = find_ids(self.store.url, kind, text)
        if len(matches) == 1:
            return matches[0][0]
        if not matches:
            short = (f" (a prefix needs at least {MIN_PREFIX} characters)"
                     if len(text) < MIN_PREFIX else "")
            raise NotFoundError(f"No {kind} {text!r} in {self.location.describe()}{short}. "
                                f"{_LIST_HINT.get(kind, '')}".rstrip())
        shown = "; ".join(f"{i} ({label})" if label else i for i, label in matches[:5])
        more = ", and more" if len(matches) > 5 else ""
        raise InvalidInputError(f"{text!r} is the start of several {kind} ids: {shown}{more}. "
                                "Give more characters.")

    def resolve_node(self, node: Any) -> str:
        """``"kind:full id"`` for a lineage node given with a full id or a unique prefix."""
        from jupyter_mlops.store.lineage import parse_node

        kind, ident = parse_node(_node_id(node))
        return f"{kind}:{self.resolve_id(kind, ident)}"

    def search_runs(self, filter: str | None = None, experiment: str | None = None,
                    order_by: Sequence[str] | str | None = None, max_results: int = 100,
                    offset: int = 0, *, warn: bool = True) -> RunList:
        """Runs matching the filter language (see :mod:`jupyter_mlops.store.filters`).

        Returns
        -------
        RunList
            A plain list of :class:`RunRecord` that renders as a table (HTML in a notebook,
            text for ``print``). Its ``hint`` is None, or names the filter's keys that no run
            has with the closest keys the store knows.

        Warns
        -----
        UnknownFilterKeyWarning
            With the same hint, when ``warn`` (front doors that show the hint themselves
            pass ``warn=False``).
        """
        found = self.store.runs.search_runs(filter, experiment, order_by, max_results, offset)
        hint = self.filter_hint(filter)
        if hint and warn:
            import warnings

            from jupyter_mlops.errors import UnknownFilterKeyWarning

            warnings.warn(hint, UnknownFilterKeyWarning, stacklevel=2)
        return RunList(found, hint)

    def filter_hint(self, filter: str | None) -> str | None:
        """Why a filter may find nothing: each key it names that no run has, and the closest
        known keys (``difflib``); None when every key exists (or the filter has none)."""
        if not filter:  # nothing to hint at: skip the import (SQLAlchemy) behind it
            return None
        from jupyter_mlops.store.filter_hints import filter_text_hint

        return filter_text_hint(self.store.url, filter)

    def count_runs(self, filter: str | None = None, experiment: str | None = None) -> int:
        return self.store.runs.count_runs(filter, experiment)

    def metric_history(self, run_id: str, key: str,
                       max_points: int | None = None) -> list[MetricPoint]:
        self.flush()
        return self.store.runs.metric_history(self._full_run_id(run_id), key, max_points)

    def lineage(self, node: Any, depth: int = 10) -> LineageGraph:
        """Upstream and downstream graph of a run id, ``"type:id"`` string or record.

        Ids may be unique prefixes (see :meth:`resolve_id`); an id nothing has raises
        NotFoundError, so "no lineage" always means a record that exists without edges.
        """
        return self.store.lineage.graph(self.resolve_node(node), depth)

    # ------------------------------------------------------------------ maintenance
    def gc(self, dry_run: bool = False) -> GcReport:
        """Mark dead runs and their pipeline runs KILLED, verify blobs, prune unreferenced ones.

        ``dry_run`` only spares the blobs: a dead run is dead either way.

        Returns
        -------
        GcReport
            ``runs_killed`` is exactly the runs this process marked KILLED: in this call, and
            when it opened the store (opening reaps too) unless an earlier ``gc`` reported
            them. ``blobs.missing`` lists referenced blobs that no longer exist.

        Raises
        ------
        PathEscapeError
            The artifact root's ``tmp/`` or ``blobs/`` is a symlink leading out of it.
        """
        from jupyter_mlops.store.pipelines import PipelineStore

        killed = self.store.take_reaped_on_open() + self.store.reap_dead_runs()
        # After the runs: a pipeline run whose tracked run was just marked KILLED goes too.
        pipelines = PipelineStore(self.store.url).reap_pipeline_runs()
        blobs = self.store.blobs.gc(self.store.catalog.referenced_digests(), dry_run=dry_run)
        return GcReport(runs_killed=killed, pipeline_runs_killed=pipelines, blobs=blobs,
                        missing_used_by=self._users_of(blobs.missing))

    def _users_of(self, digests) -> dict[str, list[str]]:
        """For each digest, the artifacts and model versions that point at it (for reports)."""
        if not digests:
            return {}
        from sqlalchemy import select

        from jupyter_mlops.store.engine import read_connection
        from jupyter_mlops.store.orm import Artifact, ModelVersion, RegisteredModel

        users: dict[str, list[str]] = {d: [] for d in digests}
        with read_connection(self.store.url) as conn:
            for d, run_id, name in conn.execute(select(
                    Artifact.digest, Artifact.run_id, Artifact.name).where(
                    Artifact.digest.in_(list(digests))).order_by(Artifact.id)):
                users[d].append(f"artifact {name!r} of run {run_id}")
            for d, model, version in conn.execute(select(
                    ModelVersion.digest, RegisteredModel.name, ModelVersion.version).join(
                    RegisteredModel, RegisteredModel.id == ModelVersion.model_id).where(
                    ModelVersion.digest.in_(list(digests)))):
                users[d].append(f"model {model!r} version {version}")
        return users


@dataclasses.dataclass(frozen=True)
class GcReport:
    """What :meth:`Client.gc` did: run ids and pipeline run ids marked KILLED, the blob check.

    ``blobs`` is the :class:`jupyter_mlops.store.blobs.GcReport` of the artifact store
    (deleted, corrupt and missing blobs); ``ok`` is false when a referenced blob is missing or
    corrupt.
    """

    runs_killed: list[str]
    pipeline_runs_killed: list[str]
    blobs: Any
    #: Missing digest → what still points at it ("artifact 'model.pkl' of run …").
    missing_used_by: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(getattr(self.blobs, "ok", True))


_LIST_HINT = {
    "run": "List runs with `jupyter mlops runs list` (or `%mlops runs`).",
    "dataset": "`jupyter mlops runs show <run>` lists the datasets of a run.",
    "artifact": "`jupyter mlops runs show <run>` lists the artifacts of a run.",
    "model": "List models with `jupyter mlops models list`.",
}


def _node_id(node: Any) -> str:
    if isinstance(node, RunRecord | RunDetail):
        return f"run:{node.id}"
    if isinstance(node, DatasetVersionRecord):
        return f"dataset:{node.id}"
    if isinstance(node, ArtifactRecord):
        return f"artifact:{node.id}"
    text = str(getattr(node, "id", node))
    return text if ":" in text else f"run:{text}"


def _serialise(obj: Any, name: str) -> tuple[bytes, str]:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj), mimetypes.guess_type(name)[0] or "application/octet-stream"
    if hasattr(obj, "to_parquet") and hasattr(obj, "columns"):
        buf = io.BytesIO()
        if name.endswith(".csv"):
            obj.to_csv(buf, index=False)
            return buf.getvalue(), "text/csv"
        require("pyarrow", "fastparquet", extra="parquet",
                feature="A DataFrame artifact in Parquet (or name it .csv)")
        obj.to_parquet(buf)
        return buf.getvalue(), "application/vnd.apache.parquet"
    if isinstance(obj, (dict, list, tuple, str, int, float, bool)) or obj is None:
        try:
            return json.dumps(obj, indent=2, allow_nan=False).encode(), "application/json"
        except ValueError as exc:
            raise InvalidInputError(f"Artifact {name!r} is not valid JSON: {exc}.") from exc
    raise InvalidInputError(
        f"Cannot store a {type(obj).__name__} as artifact {name!r}: pass a file path, bytes, "
        "a JSON-able value, a DataFrame or a figure (models go to the model registry).")


def _is_ndarray(data: Any) -> bool:
    numpy = sys.modules.get("numpy")  # an array exists only once numpy was imported
    return numpy is not None and isinstance(data, numpy.ndarray)


def _fingerprint_array(data):
    """A numpy array's fingerprint: content digest; shape and dtype as its schema."""
    from jupyter_mlops.hashing import hash_array
    from jupyter_mlops.tracking.capture import DataFingerprint

    return DataFingerprint(hash_array(data), None, int(data.nbytes),
                           int(data.shape[0]) if data.ndim else None,
                           {"dtype": str(data.dtype), "shape": str(list(data.shape))}, None)
