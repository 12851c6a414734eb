"""What a pipeline run writes to the store: step runs, artifacts, datasets, lineage, cache hits.

Only the runner's thread calls these, so every store write of a pipeline run happens in one
place and in order; workers just return a :class:`StepOutcome`.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_mlops.errors import NotFoundError
from jupyter_mlops.pipelines.spec import Pipeline, Step
from jupyter_mlops.pipelines.step import StepOutcome
from jupyter_mlops.store.safe_paths import join_under

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import ArtifactRecorder, RecordingClient

NOTEBOOK_MEDIA = "application/x-ipynb+json"
TAG_PIPELINE = "mlops.pipeline"
TAG_PIPELINE_RUN = "mlops.pipeline_run"
TAG_STEP = "mlops.step"
TAG_ATTEMPT = "mlops.attempt"
TAG_CWD = "mlops.cwd"
TAG_CACHED_FROM = "mlops.cached_from_run"


def executed_name(step: str) -> str:
    return f"{step}.executed.ipynb"


class Recorder:
    """Store writes of one pipeline run (``client`` is a :class:`jupyter_mlops.Client`)."""

    def __init__(self, client: RecordingClient, pstore, spec: Pipeline, pipeline_run_id: str,
                 parent_run_id: str, experiment: str):
        self.client = client
        self.pstore = pstore
        self.spec = spec
        self.prid = pipeline_run_id
        self.parent = parent_run_id
        self.experiment = experiment
        #: step -> output name -> artifact ids (several for a folder output)
        self.output_artifacts: dict[str, dict[str, list[int]]] = {}
        #: step -> output name -> dataset version id (outputs declared as datasets)
        self.output_datasets: dict[str, dict[str, int]] = {}

    # ----------------------------------------------------------------- attempts
    def start_attempt(self, step: Step, attempt: int) -> str:
        """Create the tracked child run of one attempt, with params and code snapshot."""
        tags = {TAG_PIPELINE: self.spec.name, TAG_PIPELINE_RUN: self.prid, TAG_STEP: step.name,
                TAG_ATTEMPT: attempt, TAG_CWD: str(self.spec.base_dir)}
        name = step.name if attempt == 1 else f"{step.name} (attempt {attempt})"
        run = self.client.create_run(experiment=self.experiment, name=name, tags=tags,
                                     parent_run_id=self.parent)
        if step.parameters:
            self.client.log_params(run.id, step.parameters)
        nb_path = self.spec.resolve_path(step.notebook)
        self.client.log_notebook(run.id, nb_path.read_bytes(), path=str(nb_path))
        self.client.flush()
        self._record_inputs(step, run.id)
        return run.id

    def _record_inputs(self, step: Step, run_id: str) -> None:
        """Lineage into the run: upstream output artifacts/datasets, or the input as a dataset."""
        lineage = self.client.store.lineage
        for inp in step.inputs:
            if inp.path is None:
                ds = self.client.get_dataset(inp.dataset, inp.version)
                lineage.add_edge("dataset", str(ds.id), "run", run_id, "input")
                continue
            made = self._upstream_output(step, self.spec.resolve_path(inp.path))
            if made is not None:
                up_step, out_name = made
                for aid in self.output_artifacts.get(up_step, {}).get(out_name, []):
                    lineage.add_edge("artifact", str(aid), "run", run_id, "input")
                did = self.output_datasets.get(up_step, {}).get(out_name)
                if did is not None:
                    lineage.add_edge("dataset", str(did), "run", run_id, "input")
                continue
            path = self.spec.resolve_path(inp.path)
            if path.exists():
                self.client.log_dataset(run_id, str(path), inp.dataset or inp.path, "input")

    def _upstream_output(self, step: Step, path: Path) -> tuple[str, str] | None:
        for up in self.spec.ancestors(step.name):
            for o in self.spec.step(up).outputs:
                p = self.spec.resolve_path(o.path)
                if path == p or p in path.parents:
                    return up, o.name
        return None

    def finish_attempt(self, step: Step, run_id: str, outcome: StepOutcome) -> None:
        """Store the executed notebook and (on success) the outputs; end the run."""
        catalog = self.client.store.catalog
        if outcome.notebook_digest:
            catalog.add_artifact(run_id, executed_name(step.name), outcome.notebook_digest,
                                 outcome.notebook_size or 0, NOTEBOOK_MEDIA, kind="notebook")
        if outcome.status == "SUCCEEDED":
            self._record_outputs(step, run_id, outcome.outputs)
        if outcome.error:
            self.client.set_tags(run_id, {"mlops.error": outcome.error[:5000]})
        self.client.end_run(run_id, "FINISHED" if outcome.status == "SUCCEEDED" else "FAILED")

    def _record_outputs(self, step: Step, run_id: str, outputs: dict[str, dict]) -> None:
        catalog = self.client.store.catalog
        arts: dict[str, list[int]] = {}
        dsets: dict[str, int] = {}
        for o in step.outputs:
            info = outputs.get(o.name)
            if info is None:
                continue
            ids = []
            if "files" in info:
                for rel, digest in info["files"].items():
                    size = self.client.store.blobs.size(digest)
                    ids.append(catalog.add_artifact(run_id, f"outputs/{o.name}/{rel}", digest,
                                                    size, _media(rel), kind="output").id)
            else:
                ids.append(catalog.add_artifact(run_id, f"outputs/{o.name}", info["digest"],
                                                info["size"], _media(o.path), kind="output").id)
            arts[o.name] = ids
            if o.dataset:
                path = self.spec.resolve_path(o.path)
                if path.exists():
                    dsets[o.name] = self.client.log_dataset(run_id, str(path), o.dataset,
                                                            "output").id
        self.output_artifacts[step.name] = arts
        self.output_datasets[step.name] = dsets

    # ----------------------------------------------------------------- cache hits
    def restore(self, step: Step, hit) -> str:
        """Put a cached step's outputs back in place and record a CACHED run for it."""
        blobs = self.client.store.blobs
        for o in step.outputs:
            info = (hit.outputs or {}).get(o.name)
            if info is None:
                continue
            dest = self.spec.resolve_path(o.path)
            files = info.get("files")
            if files is None:
                _restore_file(self.client, blobs, info["digest"], dest)
            else:
                # The relative names come from the store: checked, never trusted as paths.
                for rel, digest in files.items():
                    _restore_file(self.client, blobs, digest,
                                  join_under(dest, rel, "cached output file"))
        tags = {TAG_PIPELINE: self.spec.name, TAG_PIPELINE_RUN: self.prid, TAG_STEP: step.name,
                TAG_ATTEMPT: 0, TAG_CWD: str(self.spec.base_dir), "mlops.cache": "hit"}
        if hit.run_id:
            tags[TAG_CACHED_FROM] = hit.run_id
        run = self.client.create_run(experiment=self.experiment, name=f"{step.name} (cached)",
                                     tags=tags, parent_run_id=self.parent)
        if hit.run_id:
            self._copy_values(hit.run_id, run.id)
        if step.parameters:
            self.client.log_params(run.id, step.parameters)
        nb_path = self.spec.resolve_path(step.notebook)
        self.client.log_notebook(run.id, nb_path.read_bytes(), path=str(nb_path))
        self.client.flush()
        self._record_inputs(step, run.id)
        if hit.notebook_digest:
            self.client.store.catalog.add_artifact(
                run.id, executed_name(step.name), hit.notebook_digest,
                blobs.size(hit.notebook_digest), NOTEBOOK_MEDIA, kind="notebook")
        self._record_outputs(step, run.id, hit.outputs or {})
        self.client.end_run(run.id, "FINISHED")
        return run.id

    def _copy_values(self, src_run: str, dst_run: str) -> None:
        """Metrics and params of the run a cache hit stands in for (so comparisons work)."""
        try:
            src = self.client.store.runs.get_run(src_run)
        except NotFoundError:
            return
        if src.params:
            self.client.log_params(dst_run, src.params)
        finite = {k: v for k, v in src.metrics.items() if v == v}
        if finite:
            self.client.log_metrics(dst_run, finite)

    def hit_usable(self, hit) -> bool:
        """A hit only counts while its blobs are still stored (``gc`` may have pruned them)."""
        blobs = self.client.store.blobs
        for info in (hit.outputs or {}).values():
            digests = list(info.get("files", {}).values()) or [info["digest"]]
            if not all(blobs.exists(d) for d in digests):
                return False
        return True


def _restore_file(client: ArtifactRecorder, blobs, digest: str, dest: Path) -> None:
    if dest.is_file():
        try:
            if client.hash_cache().hash(dest) == digest:
                return  # already in place: leave the file (and its mtime) alone
        except Exception:
            pass
    dest.parent.mkdir(parents=True, exist_ok=True)
    blobs.copy_to(digest, dest)


def _media(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
