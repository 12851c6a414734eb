"""Reproduce a past run (P3): same notebook, same parameters, same data → same metrics?

:func:`reproduce` first re-hashes the run's recorded input data (datasets it used, and the
upstream pipeline outputs it read) and stops, naming them, if any changed. Otherwise it
re-executes the run's stored notebook snapshot with its parameters in a fresh kernel, as a
new run tagged ``mlops.reproduce_of``, and compares every recorded metric with the new value
within a tolerance. The outcome is also written on the original run as tags
(``mlops.reproduced`` = ``yes``/``no``, ``mlops.reproduced_by``) so the registry's promotion
gate can read it; :func:`reproduce_check` is the check that gate calls (``Client.registry``
binds it to the Client, so it re-executes against the store the registry was built on).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import (
        PipelineClient,
        RecordingClient,
        ReproduceClient,
        RunReader,
        RunRecorder,
        StoresHolder,
    )


@dataclasses.dataclass(frozen=True)
class ReproduceReport:
    """What :func:`reproduce` found.

    ``status`` is ``reproduced``, ``differs`` (metrics outside tolerance, or missing),
    ``inputs_changed`` (not re-executed) or ``failed`` (the notebook did not run through).
    """

    run_id: str
    status: str
    new_run_id: str | None = None
    changed_inputs: list[dict] = dataclasses.field(default_factory=list)
    differences: list[dict] = dataclasses.field(default_factory=list)
    compared: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "reproduced"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"ok": self.ok}

    def summary(self) -> str:
        if self.status == "reproduced":
            return (f"run {self.run_id[:12]} reproduced: {self.compared} metric(s) match "
                    f"(new run {self.new_run_id[:12]})")
        if self.status == "inputs_changed":
            names = ", ".join(f"{c['name']} ({c['reason']})" for c in self.changed_inputs)
            return f"run {self.run_id[:12]} not re-executed: input data changed: {names}"
        if self.status == "failed":
            return f"run {self.run_id[:12]}: re-execution failed: {self.error}"
        diffs = "; ".join(f"{d['metric']}: recorded {d['recorded']}, now {d['new']}"
                          for d in self.differences)
        return f"run {self.run_id[:12]} differs: {diffs}"


def reproduce(run_id: str, *, rtol: float = 1e-6, atol: float = 1e-9,
              check_inputs: bool = True, cwd: str | None = None, kernel: str | None = None,
              timeout: float | None = None, client: ReproduceClient) -> ReproduceReport:
    """Re-execute run ``run_id`` from its notebook snapshot and compare its metrics.

    Parameters
    ----------
    run_id : str
        The run (a unique prefix is enough).
    rtol, atol : float
        A metric matches when ``math.isclose(new, recorded, rel_tol=rtol, abs_tol=atol)``.
    check_inputs : bool
        Re-hash the recorded inputs first and stop if one changed (default True).
    cwd : str, optional
        Folder to run in (default: where the run ran, when recorded).
    kernel : str, optional
        Kernel name (default: the snapshot's kernelspec, else ``python3``).
    timeout : float, optional
        Wall-clock limit for the re-execution.
    client : Client
        The store the run is in (``mlops.reproduce`` passes the fluent API's client).

    Returns
    -------
    ReproduceReport

    Raises
    ------
    NotFoundError
        No such run, or it has no notebook snapshot to re-execute.
    """
    run_id = _resolve(client, run_id)
    detail = client.get_run(run_id)
    changed = _changed_inputs(client, detail) if check_inputs else []
    if changed:
        report = ReproduceReport(run_id, "inputs_changed", changed_inputs=changed)
        _record(client, run_id, report)
        return report
    snapshot = client.notebook_snapshot(run_id)
    workdir = cwd or detail.tags.get("mlops.cwd") or _snapshot_dir(detail) or os.getcwd()
    params = parameters_for(snapshot, detail.params)
    kernel = kernel or (snapshot.get("metadata", {}).get("kernelspec", {}) or {}).get(
        "name") or "python3"
    new = client.create_run(experiment=detail.run.experiment,
                            name=f"{detail.run.name} (reproduce)"[:256],
                            tags={"mlops.reproduce_of": run_id})
    client.flush()
    outcome = _execute(client, snapshot, params, kernel, workdir, timeout, new.id,
                       detail.run.experiment)
    client.end_run(new.id, "FINISHED" if outcome.status == "SUCCEEDED" else "FAILED")
    if outcome.status != "SUCCEEDED":
        report = ReproduceReport(run_id, "failed", new.id, error=outcome.error)
    else:
        diffs, compared = compare_metrics(detail.metrics, client.get_run(new.id).metrics,
                                          rtol, atol)
        report = ReproduceReport(run_id, "differs" if diffs else "reproduced", new.id,
                                 differences=diffs, compared=compared)
    _record(client, run_id, report)
    return report


def reproduce_check(run_id: str, *, client: ReproduceClient) -> tuple[bool, str]:
    """Promotion-gate check: ``(ok, detail)`` of reproducing ``run_id`` in ``client``'s store.

    ``client`` is required: a gate must read the store its registry was built on, never the
    process default (``functools.partial(reproduce_check, client=c)`` is what
    ``Client.registry`` hands the registry).
    """
    try:
        report = reproduce(run_id, client=client)
    except Exception as exc:  # a gate reports, it does not crash the promotion flow
        return False, f"could not reproduce run {run_id}: {exc}"
    return report.ok, report.summary()


# --------------------------------------------------------------------------- pieces
def compare_metrics(recorded: dict[str, float], new: dict[str, float], rtol: float,
                    atol: float) -> tuple[list[dict], int]:
    """Differences between two metric dicts (missing ones included) and how many matched."""
    diffs = []
    compared = 0
    for key in sorted(set(recorded) | set(new)):
        a, b = recorded.get(key), new.get(key)
        if a is None or b is None:
            diffs.append({"metric": key, "recorded": a, "new": b,
                          "reason": "missing in new run" if b is None else "not recorded"})
            continue
        compared += 1
        same = (math.isnan(a) and math.isnan(b)) or math.isclose(b, a, rel_tol=rtol,
                                                                   abs_tol=atol)
        if not same:
            diffs.append({"metric": key, "recorded": a, "new": b, "abs_diff": abs(b - a)})
    return diffs, compared


def parameters_for(snapshot: dict, params: dict[str, str]) -> dict[str, Any]:
    """The run's logged params that its notebook declares, with the declared types.

    Params are stored as text; a value is parsed as a Python literal unless the notebook's
    default for it is a string.
    """
    import ast

    from jupyter_mlops.pipelines.spec import parameters_of_source

    declared: dict[str, Any] = {}
    for cell in snapshot.get("cells", []):
        tags = (cell.get("metadata") or {}).get("tags") or []
        if cell.get("cell_type") == "code" and ("parameters" in tags
                                                 or "injected-parameters" in tags):
            src = cell.get("source", "")
            declared.update(parameters_of_source("".join(src) if isinstance(src, list) else src))
    out: dict[str, Any] = {}
    for key, default in declared.items():
        if key not in params:
            continue
        text = params[key]
        if isinstance(default, str):
            out[key] = text
            continue
        try:
            out[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            try:
                out[key] = json.loads(text)
            except ValueError:
                out[key] = text
    return out


def _changed_inputs(client: PipelineClient, detail) -> list[dict]:
    """Recorded inputs whose content now hashes differently (or that are gone)."""
    changed = []
    hashes = client.hash_cache()
    for ds in detail.datasets:
        if ds.role != "input":
            continue
        if not ds.source:
            continue  # an in-memory DataFrame: nothing on disk to re-check
        changed.extend(_check(hashes, ds.name, Path(ds.source), ds.digest))
    for name, path, digest in _artifact_inputs(client, detail):
        changed.extend(_check(hashes, name, path, digest))
    return changed


def _check(hashes, name: str, path: Path, digest: str) -> list[dict]:
    if not path.exists():
        return [{"name": name, "path": str(path), "reason": "missing", "recorded": digest,
                 "current": None}]
    current = hashes.hash(path)
    if current != digest:
        return [{"name": name, "path": str(path), "reason": "content changed",
                 "recorded": digest, "current": current}]
    return []


def _artifact_inputs(client: StoresHolder, detail):
    """Upstream pipeline outputs the run read: (label, path on disk, recorded digest)."""
    ids = client.store.lineage.sources_of(f"run:{detail.id}", "artifact", "input")
    pstore = client.stores.pipelines
    seen = set()
    for aid in ids:
        art = client.store.catalog.get_artifact_by_id(int(aid))
        found = pstore.step_of_run(art.run_id) if art.run_id else None
        if found is None:
            continue
        step_run, _ = found
        cwd = client.store.runs.get_run(art.run_id).tags.get("mlops.cwd") or os.getcwd()
        for out_name, info in (step_run.outputs or {}).items():
            if art.name == f"outputs/{out_name}" and info.get("digest") == art.digest:
                key = (out_name, info["path"])
                if key not in seen:
                    seen.add(key)
                    yield f"{step_run.step}/{out_name}", Path(cwd) / info["path"], art.digest


def _execute(client: RecordingClient, snapshot: dict, params: dict, kernel: str, cwd: str,
             timeout: float | None, run_id: str, experiment: str):
    from jupyter_mlops.config import current_user
    from jupyter_mlops.pipelines.step import StepTask, execute_step

    store = client.store
    with tempfile.TemporaryDirectory(prefix="mlops-reproduce-") as tmp:
        nb_path = Path(tmp) / "snapshot.ipynb"
        nb_path.write_text(json.dumps(snapshot))
        env = {"MLOPS_TRACKING_URI": store.url, "MLOPS_ARTIFACT_ROOT": store.artifact_root,
               "MLOPS_RUN_ID": run_id, "MLOPS_EXPERIMENT": experiment,
               "MLOPS_USER": current_user()}
        task = StepTask(pipeline="reproduce", step="reproduce", attempt=1,
                        notebook=str(nb_path), cwd=cwd, parameters=params, kernel=kernel,
                        timeout=timeout, env=env, artifact_root=store.artifact_root,
                        outputs=())
        outcome = execute_step(task)
    if outcome.notebook_digest:
        store.catalog.add_artifact(run_id, "reproduce.executed.ipynb", outcome.notebook_digest,
                                   outcome.notebook_size or 0, "application/x-ipynb+json",
                                   kind="notebook")
    client.log_notebook(run_id, snapshot)
    return outcome


def _record(client: RunRecorder, run_id: str, report: ReproduceReport) -> None:
    tags = {"mlops.reproduced": "yes" if report.ok else "no",
            "mlops.reproduce_status": report.status}
    if report.new_run_id:
        tags["mlops.reproduced_by"] = report.new_run_id
    client.set_tags(run_id, tags)
    client.flush()


def _snapshot_dir(detail) -> str | None:
    path = detail.code.notebook_path if detail.code else None
    if path and Path(path).parent.is_dir():
        return str(Path(path).parent)
    return None


def _resolve(client: RunReader, text: str) -> str:
    # The Client's one resolver: a unique prefix, candidates when ambiguous, the store named.
    return client.resolve_run_id(text)
