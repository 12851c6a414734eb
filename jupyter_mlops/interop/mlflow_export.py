"""``jupyter mlops export mlflow DEST``: this store's runs and models, into MLflow.

Written through the real ``mlflow`` client (``MlflowClient(tracking_uri=DEST)``, the
``mlflow`` extra), so DEST is anything MLflow itself accepts: an ``mlruns`` folder, a tracking
database URI or a tracking server URL. Runs keep experiments, names, status, start and end
times, params, tags, the full metric history (``log_batch`` in pages of 1,000), and
artifacts; registered models keep their versions (source ``runs:/…`` of the exported run) and
aliases; experiments (their description as ``mlflow.note.content``), models and versions keep
their tags and descriptions, written where MLflow has none under that key
(:mod:`.mlflow_metadata`).

Idempotent and resumable: each exported run carries the tag ``jupyter_mlops.run_id`` (this
store's id), and ``jupyter_mlops.exported`` once everything of it was written. A rerun skips
complete runs, soft-deletes a run a killed export left incomplete and writes it again, and
skips a run that MLflow already holds under the same id (one imported from there).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Any

from jupyter_mlops.extras import require

RUN_ID_TAG = "jupyter_mlops.run_id"
DONE_TAG = "jupyter_mlops.exported"
_PAGE = 1000


@dataclasses.dataclass
class ExportReport:
    dest: str
    runs_exported: int = 0
    runs_present: int = 0
    runs_redone: int = 0
    metric_points: int = 0
    artifacts: int = 0
    versions_exported: int = 0
    #: Tags and descriptions written onto MLflow's experiments, models and versions.
    metadata_exported: int = 0
    #: Experiments deleted here, so deleted in MLflow too once their runs were written.
    experiments_deleted: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        if not (self.runs_exported or self.versions_exported or self.metadata_exported):
            head = (f"Exported to {self.dest}: nothing new ({self.runs_present} run(s) were "
                    "already there)")
        else:
            head = (f"Exported to {self.dest}: {self.runs_exported} run(s) "
                    f"({self.metric_points} metric points, {self.artifacts} artifacts), "
                    f"{self.versions_exported} model version(s), {self.metadata_exported} "
                    f"tag(s) and description(s); {self.runs_present} run(s) already there")
            if self.experiments_deleted:
                head += (f"; {self.experiments_deleted} experiment(s) deleted here, so "
                         "deleted there")
            if self.runs_redone:
                head += f"; {self.runs_redone} incomplete run(s) from a stopped export redone"
        return "\n".join([head] + [f"  {n}" for n in self.notes])


def export_mlflow(client: Any, dest: str, *, progress: bool = True) -> ExportReport:
    """Export every run and registered model of ``client``'s store to ``dest``."""
    require("mlflow", extra="mlflow", feature="Exporting to MLflow")
    # MLflow resolves a model version's runs:/ source through a client on its *default*
    # tracking URI, not the one given to MlflowClient: without this, exporting wrote an
    # empty ./mlflow.db into the working folder (MLflow 3's default store).
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = dest
    try:
        return _export(client, dest, progress)
    finally:
        if saved is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved


def _export(client: Any, dest: str, progress: bool) -> ExportReport:
    if "://" not in dest:  # a folder: MLflow 3 wants this to use its FileStore
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow import MlflowClient
    from tqdm import tqdm

    ml = MlflowClient(tracking_uri=dest)
    report = ExportReport(dest)
    mapping: dict[str, str] = {}
    runs = []
    from jupyter_mlops.interop.mlflow_metadata import experiment_tags, export_experiment

    experiments = client.list_experiments("all")
    for exp in experiments:  # deleted ones too: every run leaves
        offset = 0
        while True:  # the store's page limit is 50,000 runs
            page = client.search_runs(experiment=exp.name, max_results=50_000, offset=offset,
                                      warn=False, lifecycle="all")
            runs += page
            offset += len(page)
            if len(page) < 50_000:
                break
    exp_ids: dict[str, str] = {}
    done: dict[str, str] = {}
    # Experiments with runs, and active ones with tags or a description (even empty).
    wanted = {r.experiment for r in runs} | {
        e.name for e in experiments if e.lifecycle_stage == "active" and experiment_tags(e)}
    deleted_here = []
    for exp in sorted((e for e in experiments if e.name in wanted), key=lambda e: e.name):
        name = exp.name
        found = ml.get_experiment_by_name(name)
        exp_ids[name] = found.experiment_id if found else ml.create_experiment(name)
        if found is not None and found.lifecycle_stage == "deleted":
            # MLflow takes no run into a deleted experiment: restored for the export, and
            # deleted again below when it is deleted here too (an earlier export's doing).
            ml.restore_experiment(exp_ids[name])
            if exp.lifecycle_stage != "deleted":
                report.notes.append(f"experiment {name!r}: deleted in MLflow, active here; "
                                    "restored there")
        if exp.lifecycle_stage == "deleted":  # (id, whether MLflow's was active till now)
            deleted_here.append((exp_ids[name], found is None or
                                 found.lifecycle_stage != "deleted"))
        export_experiment(ml, exp_ids[name], exp, report)
        done.update(_exported(ml, exp_ids[name], report))
    with tqdm(total=len(runs), unit=" runs", desc="Exporting", disable=not progress,
              leave=False) as bar:
        for r in sorted(runs, key=lambda r: r.start_time):
            bar.update(1)
            if r.id in done:
                mapping[r.id] = done[r.id]
                report.runs_present += 1
                continue
            mapping[r.id] = _export_run(client, ml, r, exp_ids[r.experiment], report)
            report.runs_exported += 1
    _export_models(client, ml, mapping, report)
    for experiment_id, newly in deleted_here:  # deleted here: deleted there, runs with it
        ml.delete_experiment(experiment_id)
        report.experiments_deleted += newly
    return report


def _exported(ml, experiment_id: str, report: ExportReport) -> dict[str, str]:
    """{our run id: MLflow run id} of complete runs; incomplete ones are soft-deleted."""
    from mlflow.entities import ViewType

    out, token = {}, None
    while True:
        page = ml.search_runs([experiment_id], run_view_type=ViewType.ACTIVE_ONLY,
                              max_results=1000, page_token=token)
        for run in page:
            ours = run.data.tags.get(RUN_ID_TAG)
            if ours and run.data.tags.get(DONE_TAG):
                out[ours] = run.info.run_id
            elif ours:
                ml.delete_run(run.info.run_id)
                report.runs_redone += 1
            else:  # imported from MLflow: the same id on both sides
                out[run.info.run_id] = run.info.run_id
        token = page.token
        if not token:
            return out


def _export_run(client, ml, r, experiment_id: str, report: ExportReport) -> str:
    from mlflow.entities import Metric, Param, RunTag

    tags = {**r.tags, RUN_ID_TAG: r.id}
    if r.parent_run_id:
        tags.setdefault("mlflow.parentRunId", r.parent_run_id)
    run = ml.create_run(experiment_id, start_time=int(r.start_time * 1000), tags=tags,
                        run_name=r.name)
    rid = run.info.run_id
    params = [Param(k, v) for k, v in r.params.items()]
    for i in range(0, len(params), 100):
        ml.log_batch(rid, params=params[i:i + 100])
    for key in sorted(r.metrics):
        points = [Metric(key, p.value, int(p.timestamp * 1000), int(p.step))
                  for p in client.metric_history(r.id, key)]
        report.metric_points += len(points)
        for i in range(0, len(points), _PAGE):
            ml.log_batch(rid, metrics=points[i:i + _PAGE])
    arts = client.list_artifacts(r.id)
    if arts:
        with tempfile.TemporaryDirectory(prefix="mlops-export-") as tmp:
            for a in arts:
                client.download_artifact(r.id, a.name, os.path.join(tmp, a.name))
            ml.log_artifacts(rid, tmp)
        report.artifacts += len(arts)
    ml.log_batch(rid, tags=[RunTag(DONE_TAG, "1")])
    if r.status != "RUNNING":  # a RUNNING run stays RUNNING there, as it is here
        ml.set_terminated(rid, r.status, end_time=int((r.end_time or r.start_time) * 1000))
    return rid


def _export_models(client, ml, mapping: dict[str, str], report: ExportReport) -> None:
    from mlflow.exceptions import MlflowException

    from jupyter_mlops.interop.mlflow_metadata import export_model, export_version

    for m in client.registry.list_models():
        try:
            have = {int(v.version) for v in ml.search_model_versions(f"name = '{m.name}'")}
        except MlflowException:
            have = set()
        if not have:
            try:
                ml.create_registered_model(m.name, description=m.description)
            except MlflowException:
                pass  # already there, without versions
        export_model(ml, m, report)
        for v in client.registry.list_versions(m.name):
            if v.version in have:
                export_version(ml, m.name, str(v.version), v, report)
                continue
            rid = mapping.get(v.run_id or "")
            art = next((a for a in (client.list_artifacts(v.run_id) if v.run_id else [])
                        if a.digest == v.digest), None)
            if rid is None or art is None:
                report.notes.append(f"model {m.name!r} version {v.version}: its run or model "
                                    "file was not exported; skipped")
                continue
            folder = art.name.rsplit("/", 1)[0] if "/" in art.name else ""
            made = ml.create_model_version(m.name, f"runs:/{rid}/{folder}".rstrip("/"),
                                           run_id=rid, description=v.description)
            if int(made.version) != v.version:
                report.notes.append(f"model {m.name!r} version {v.version}: MLflow numbered "
                                    f"it {made.version} (versions are sequential there)")
            have.add(int(made.version))
            report.versions_exported += 1
            export_version(ml, m.name, str(made.version), v, report)
            for alias in v.aliases:
                ml.set_registered_model_alias(m.name, alias, made.version)
