"""``jupyter mlops import mlflow SOURCE``: an MLflow store's history, into this store, in bulk.

What is imported: experiments (by name), runs with their MLflow run id, name, user, status,
start and end times, params, tags, the full metric history (value, timestamp, step), their
artifacts (content-addressed blobs), registered models with their version numbers, each
version's model file, description, creator, stage and source run (lineage), and aliases;
the tags of experiments (with their description, MLflow's tag ``mlflow.note.content``),
registered models and versions, and the descriptions of models and versions.
MLflow's ``Staging``/``Production`` stages become the aliases ``staging``/``production``
(as this project's MLflow API maps them) unless that alias is taken; every stage, source and
status is kept in the version's ``import`` audit event.

How it stays safe:

* Read-only on the source (:mod:`.mlflow_sources`).
* Idempotent: a run keeps its MLflow id, so a run already here is skipped; a model version
  already here is skipped; a second import adds nothing and says so. Tags and descriptions
  are added where this store has none under that key: a value edited here is kept.
* Resumable: runs are written a batch at a time, each batch (runs, params, tags, metric
  chunks, artifact rows) in ONE transaction, after its artifact blobs are stored. A killed
  import leaves only complete runs; a rerun continues where it stopped.
* Every value is validated where it enters; a bad one (a key with ``..`` segments or control
  characters, an oversized value, a NUL) is skipped with one line saying why, and never
  aborts the rest of its run or of the import.
"""

from __future__ import annotations

import dataclasses
import functools
import mimetypes
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_mlops.interop.mlflow_sources import MlflowSource, open_source
from jupyter_mlops.validation import MAX_KEY, MAX_PARAM_VALUE

#: Runs written per transaction: big enough to amortise, small enough to resume cheaply.
BATCH_RUNS = 500
#: A stored reference to where a run or version came from (kept in the audit log).
SOURCE_TAG = "mlflow.import.source"
#: Tag an export writes on the MLflow side: the run it came from here.
EXPORTED_FROM_TAG = "jupyter_mlops.run_id"
_RUN_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_STATUS = {"RUNNING": "RUNNING", "SCHEDULED": "RUNNING", "FINISHED": "FINISHED",
           "FAILED": "FAILED", "KILLED": "KILLED"}
_MODEL_FILES = {".skops": "skops", ".pkl": "pickle", ".pickle": "pickle", ".joblib": "joblib"}
_STAGE_ALIAS = {"Staging": "staging", "Production": "production"}
_MAX_NOTES_SHOWN = 20


@dataclasses.dataclass
class ImportReport:
    """What an import did: counts, and one line per thing skipped (with the reason)."""

    source: str
    experiments: int = 0
    runs_imported: int = 0
    runs_present: int = 0
    runs_skipped: int = 0
    params: int = 0
    tags: int = 0
    metric_points: int = 0
    artifacts: int = 0
    artifact_bytes: int = 0
    versions_imported: int = 0
    versions_present: int = 0
    aliases_set: int = 0
    parents_linked: int = 0
    #: Tags (and descriptions) added to experiments, registered models and versions.
    metadata_added: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def added_nothing(self) -> bool:
        return not (self.runs_imported or self.versions_imported or self.aliases_set
                    or self.metadata_added)

    def summary(self) -> str:
        lines = [f"Imported from {self.source}:"]
        if self.added_nothing:
            lines.append(f"  nothing new: {self.runs_present} run(s) and "
                         f"{self.versions_present} model version(s) were already imported")
        else:
            lines += [
                f"  {self.runs_imported} run(s) in {self.experiments} experiment(s): "
                f"{self.params} params, {self.tags} tags, {self.metric_points} metric points, "
                f"{self.artifacts} artifacts ({self.artifact_bytes} bytes)",
                f"  {self.versions_imported} model version(s), {self.aliases_set} alias(es)"
                f"{f', {self.parents_linked} parent link(s)' if self.parents_linked else ''}",
                f"  {self.metadata_added} tag(s) and description(s) of experiments, models "
                "and versions",
            ]
            if self.runs_present or self.versions_present:
                lines.append(f"  already here, left as they are: {self.runs_present} run(s), "
                             f"{self.versions_present} model version(s)")
        if self.runs_skipped:
            lines.append(f"  {self.runs_skipped} run(s) skipped (see below)")
        if self.notes:
            reasons = Counter(_reason(n) for n in self.notes)
            lines.append(f"Skipped or changed ({len(self.notes)}):")
            lines += [f"  {n}" for n in self.notes[:_MAX_NOTES_SHOWN]]
            if len(self.notes) > _MAX_NOTES_SHOWN:
                lines.append(f"  … and {len(self.notes) - _MAX_NOTES_SHOWN} more; by reason: "
                             + "; ".join(f"{k} ×{v}" for k, v in reasons.most_common(5)))
        return "\n".join(lines)


def _reason(note: str) -> str:
    return note.rsplit(": ", 1)[-1]


def import_mlflow(client: Any, source: str, *, progress: bool = True,
                  batch_runs: int = BATCH_RUNS,
                  on_batch: Callable[[int], None] | None = None) -> ImportReport:
    """Import everything ``source`` holds into ``client``'s store; see the module docstring.

    Parameters
    ----------
    client : jupyter_mlops.Client
        The store to import into.
    source : str
        An ``mlruns`` folder, an MLflow database URI, or a tracking server URL.
    progress : bool
        Show a progress bar (tqdm, on stderr).
    batch_runs : int
        Runs per transaction.
    on_batch : callable, optional
        Called with the number of runs imported so far after each committed batch.

    Raises
    ------
    InvalidInputError, NotFoundError
        ``source`` is not an MLflow store (nothing was written anywhere).
    """
    if batch_runs < 1:
        from jupyter_mlops.errors import InvalidInputError

        raise InvalidInputError("--batch-runs must be at least 1.")
    src = open_source(source)
    try:
        report = ImportReport(src.where)
        _import_runs(client, src, report, progress, batch_runs, on_batch)
        models = src.models()
        _import_models(client, src, report, models)
        from jupyter_mlops.interop.mlflow_metadata import import_metadata

        import_metadata(client, src.experiments(), models, report)
        return report
    finally:
        src.close()


# ---------------------------------------------------------------------- runs
def _import_runs(client, src: MlflowSource, report: ImportReport, progress: bool,
                 batch_runs: int, on_batch) -> None:
    from jupyter_mlops.store import bulk_import

    url = client.store.url
    note = report.notes.append
    experiments = {str(e["experiment_id"]): e for e in src.experiments()}
    index = src.run_index()
    wanted = []
    for r in index:
        rid, exp = r["run_uuid"], experiments.get(str(r["experiment_id"]))
        if not isinstance(rid, str) or not _RUN_ID.fullmatch(rid):
            note(f"run {str(rid)[:40]!r}: not a valid run id; skipped")
            report.runs_skipped += 1
        elif exp is None:
            note(f"run {rid}: its experiment {r['experiment_id']} is missing or deleted; "
                 "skipped")
            report.runs_skipped += 1
        elif "deleted" in (exp.get("lifecycle_stage"), r.get("lifecycle_stage")):
            note(f"run {rid}: deleted in MLflow; skipped")
            report.runs_skipped += 1
        else:
            wanted.append(rid)
    present = bulk_import.existing_run_ids(url, wanted)
    report.runs_present = len(present)
    todo = [rid for rid in wanted if rid not in present]
    names = set()
    bar = _bar(len(todo), "runs", progress)
    imported: list[str] = []
    try:
        for i in range(0, len(todo), batch_runs):
            rows = src.runs(todo[i:i + batch_runs], note)
            # A run exported from this store (export mlflow) comes back as itself: skipped.
            origins = {(row.get("tags") or {}).get(EXPORTED_FROM_TAG) for row in rows} - {None}
            home = bulk_import.existing_run_ids(url, [o for o in origins
                                                      if _RUN_ID.fullmatch(str(o))])
            batch = []
            for row in rows:
                if (row.get("tags") or {}).get(EXPORTED_FROM_TAG) in home:
                    report.runs_present += 1
                    continue
                if row.get("lifecycle_stage") == "deleted":  # folder sources say so here
                    note(f"run {row['run_uuid']}: deleted in MLflow; skipped")
                    report.runs_skipped += 1
                    continue
                exp = experiments[str(row["experiment_id"])]
                run = _run(row, exp["name"], note)
                run.artifacts = _artifacts(client, src, row, note, report)
                batch.append(run)
            exp_ids = bulk_import.experiment_ids(url, {r.experiment for r in batch})
            for r in [r for r in batch if r.experiment not in exp_ids]:
                note(f"run {r.id}: its experiment {r.experiment!r} is deleted in this store; "
                     "skipped (restore it to import these runs)")
                report.runs_skipped += 1
                batch.remove(r)
            bulk_import.insert_runs(url, batch, exp_ids)
            for r in batch:
                names.add(r.experiment)
                report.params += len(r.params)
                report.tags += len(r.tags)
                report.metric_points += sum(len(m[0]) for m in r.metrics.values())
                imported.append(r.id)
            report.runs_imported += len(batch)
            bar.update(len(rows))
            if on_batch:
                on_batch(report.runs_imported)
    finally:
        bar.close()
    report.experiments = len(names)
    # Parents may arrive in a later batch, or be imported by an earlier import: link all.
    report.parents_linked = bulk_import.link_parents(url, wanted)


def _run(row: dict, experiment: str, note) -> Any:
    from jupyter_mlops.store.bulk_import import ImportRun

    rid = row["run_uuid"]
    status = _STATUS.get(str(row.get("status") or "").upper())
    if status is None:
        note(f"run {rid}: unknown status {str(row.get('status'))[:20]!r}; imported as KILLED")
        status = "KILLED"
    elif status == "RUNNING":
        note(f"run {rid}: still {row.get('status')} in MLflow; imported as RUNNING (this "
             "store marks it KILLED once no writer is left)")
    start = _seconds(row.get("start_time")) or 0.0
    end = _seconds(row.get("end_time"))
    tags = _clean(row.get("tags") or {}, "tag", rid, note)
    name = row.get("name") or tags.get("mlflow.runName") or f"run-{rid[:8]}"
    user = str(row.get("user_id") or tags.get("mlflow.user") or "unknown")[:128]
    metrics = {}
    for key, (values, steps, stamps) in (row.get("metrics") or {}).items():
        why = _bad_key(key)
        if why is None:
            try:
                metrics[key] = _series(values, steps, stamps)
            except (TypeError, ValueError, OverflowError):
                why = "a value, step or timestamp that is not a number"
        if why:
            note(f"metric {str(key)[:60]!r} of run {rid} ({len(values)} point(s)): {why}; "
                 "skipped")
    return ImportRun(id=rid, experiment=experiment, name=str(name)[:256], status=status,
                     user=user, start_time=start, end_time=end,
                     params=_clean(row.get("params") or {}, "param", rid, note), tags=tags,
                     metrics=metrics)


def _series(values, steps, stamps):
    """(values, steps, timestamps in seconds) as numpy arrays, checked in one go."""
    import numpy as np

    v = np.asarray(values, dtype="<f8")
    s = np.asarray([0 if x is None else x for x in steps] if None in steps else steps,
                   dtype="<i8")
    t = np.asarray(stamps, dtype="<f8") / 1000.0
    if not (v.ndim == s.ndim == t.ndim == 1 and len(v) == len(s) == len(t)):
        raise ValueError("ragged series")
    return v, s, t


def _seconds(ms: Any) -> float | None:
    try:
        return None if ms is None else int(ms) / 1000.0
    except (TypeError, ValueError):
        return None


@functools.lru_cache(maxsize=65536)
def _bad_key(key: Any) -> str | None:
    if not isinstance(key, str) or not key:
        return "not a key"
    if len(key) > MAX_KEY:
        return f"key longer than {MAX_KEY} characters"
    if not key.isprintable():
        return "control characters in the key"
    if key.startswith("/") or ".." in key.split("/"):
        return "a key with '..' or a leading '/' is refused (MLflow refuses it too)"
    return None


def _clean(values: dict, what: str, rid: str, note) -> dict[str, str]:
    out = {}
    for key, value in values.items():
        why = _bad_key(key)
        value = "" if value is None else str(value)
        if why is None and len(value) > MAX_PARAM_VALUE:
            why = f"value of {len(value)} characters, over the {MAX_PARAM_VALUE} limit"
        if why is None and "\x00" in value:
            why = "NUL character in the value"
        if why:
            note(f"{what} {str(key)[:60]!r} of run {rid}: {why}; skipped")
            continue
        out[key] = value
    return out


def _artifacts(client, src: MlflowSource, row: dict, note, report: ImportReport) -> list:
    """Store the run's artifact files as blobs (before its rows: a killed import leaves
    unreferenced blobs, never a row without its blob)."""
    blobs = client.store.blobs
    out = []
    try:
        files = list(src.artifact_files(row, note))
    except Exception as exc:  # noqa: BLE001 - one run's artifacts must not stop the import
        note(f"artifacts of run {row['run_uuid']}: {type(exc).__name__}: "
             f"{str(exc)[:120]}; skipped")
        return out
    for name, path in files:
        if len(name) > 1024 or not name.isprintable():
            note(f"artifact {name[:60]!r} of run {row['run_uuid']}: invalid name; skipped")
            continue
        info = blobs.put_file(path)
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        out.append((name, info.digest, info.size, media))
        report.artifacts += 1
        report.artifact_bytes += info.size
    return out


def _bar(total: int, unit: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit=f" {unit}", disable=not enabled or total == 0,
                desc="Importing", leave=False)


# ---------------------------------------------------------------------- registry
def _import_models(client, src: MlflowSource, report: ImportReport, models: list[dict]
                   ) -> None:
    from jupyter_mlops.config import current_user
    from jupyter_mlops.store import bulk_import

    url, note, user = client.store.url, report.notes.append, current_user()
    for m in models:
        name = m["name"]
        versions, stage_aliases = [], {}
        present_before = _present_versions(client, name)
        for v in m["versions"]:
            number = int(v["version"])
            if number in present_before:
                report.versions_present += 1
                continue
            found = _model_file(client, src, v, note)
            if found is None:
                continue
            digest, size, flavor, model_class = found
            stage = v.get("current_stage") or "None"
            if stage in _STAGE_ALIAS:
                stage_aliases.setdefault(_STAGE_ALIAS[stage], number)
            versions.append(bulk_import.ImportVersion(
                version=number, run_id=v.get("run_id") or None, digest=digest, size=size,
                flavor=flavor, model_class=model_class,
                description=v.get("description") or None,
                user=str(v.get("user_id") or "unknown")[:128],
                created_at=_seconds(v.get("creation_time")) or 0.0,
                details={"mlflow_stage": stage, "mlflow_source": v.get("source"),
                         "mlflow_status": v.get("status"), SOURCE_TAG: src.where}))
        # MLflow's own aliases win over stage-derived ones of the same name.
        aliases = {**stage_aliases, **m["aliases"]}
        added, set_aliases, skipped = bulk_import.import_model(
            url, name, description=m.get("description") or None,
            created_at=_seconds(m.get("creation_time")) or 0.0,
            updated_at=_seconds(m.get("last_updated_time")) or 0.0, versions=versions,
            aliases=aliases, user=user)
        report.versions_imported += len(added)
        report.aliases_set += len(set_aliases)
        for number, why in skipped.items():
            note(f"model {name!r} version {number}: {why}; skipped")
        for alias, number in aliases.items():
            if number not in {v.version for v in versions} | present_before:
                note(f"alias {alias!r} of model {name!r}: its version {number} was not "
                     "imported; skipped")


def _present_versions(client, name: str) -> set[int]:
    from jupyter_mlops.store.bulk_import import model_version_numbers

    return model_version_numbers(client.store.url, name)


def _model_file(client, src: MlflowSource, v: dict, note
                ) -> tuple[str, int, str, str] | None:
    """``(digest, size, flavor, model class)`` of the version's model file, as a blob."""
    from jupyter_mlops.registry.mlflow_boosters import SKIPPED, from_mlflow_folder
    from jupyter_mlops.interop.mlflow_sources import local_artifacts
    from jupyter_mlops.store import bulk_import

    label = f"model {v['name']!r} version {v['version']}"
    source = v.get("source") or ""
    candidates: list[tuple[str, str, int]] = []
    folder_files: dict[str, Callable[[], bytes]] = {}  # the model folder's files, by name
    get_blob = client.store.blobs.get_bytes
    m = re.fullmatch(r"runs:/([0-9A-Za-z_-]{1,64})/?(.*)", source)
    run_id = v.get("run_id")
    sub = None
    if m:
        run_id, sub = m[1], m[2]
    elif run_id and (folder := src.model_folder(v)) and "/artifacts/" in folder.replace(
            "\\", "/") and run_id in folder:
        sub = folder.replace("\\", "/").split("/artifacts/", 1)[1]
    if sub is not None:
        candidates = bulk_import.artifact_digests(client.store.url, run_id, sub)
        prefix = sub.rstrip("/") + "/" if sub.strip("/") else ""
        folder_files = {name[len(prefix):]: functools.partial(get_blob, digest)
                        for name, digest, _ in candidates}
    if not candidates:
        folder = src.model_folder(v)
        if folder:
            for name, path in local_artifacts(folder, str(run_id), note):
                folder_files[name] = Path(path).read_bytes
                if name.endswith(tuple(_MODEL_FILES)):
                    info = client.store.blobs.put_file(path)
                    candidates.append((name, info.digest, info.size))
    booster = from_mlflow_folder(folder_files, note, label)
    if isinstance(booster, tuple):
        data, flavor, model_class = booster
        info = client.store.blobs.put_bytes(data)
        return info.digest, info.size, flavor, model_class
    if booster == SKIPPED:
        return None
    for name, digest, size in candidates:
        for ext, flavor in _MODEL_FILES.items():
            if name.endswith(ext):
                return digest, size, flavor, f"MLflow model ({flavor} file)"
    note(f"{label}: no model file ({', '.join(_MODEL_FILES)}) found in {source[:80]!r} "
         "(this registry keeps one model file per version); skipped")
    return None
