"""Run a pipeline: steps in dependency order, in parallel where the DAG allows, cached.

One pipeline run is one tracked run; every attempt of every step is a child run created
*before* its kernel starts and handed to it through ``MLOPS_RUN_ID``, so whatever the
notebook logs (``%mlops metric``, ``mlops.log_metric``) lands on the step's run. A step whose
cache key matches an earlier success is not executed: its outputs are restored and it is
recorded CACHED. A failed step is retried per its policy; after the last attempt its
dependants are SKIPPED while independent branches carry on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.config import current_user
from jupyter_mlops.errors import InvalidInputError, StepExecutionError
from jupyter_mlops.pipelines.cache import cache_key, normalise_notebook
from jupyter_mlops.pipelines.progress import Progress, make_progress
from jupyter_mlops.pipelines.recording import Recorder
from jupyter_mlops.pipelines.spec import Pipeline, Step
from jupyter_mlops.pipelines.step import StepOutcome, StepTask, execute_step

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # executors and kernels load when a step really runs (see _LazyLocal)
    from jupyter_mlops.pipelines.executors import Executor
    from jupyter_mlops.pipelines.kernels import KernelKey
    from jupyter_mlops.ports import PipelineClient

FINAL_OK = ("SUCCEEDED", "CACHED")
#: The longest the main thread waits before it looks for a signal again (see _next_finished).
SIGNAL_POLL_S = 0.25
LOCAL_NAMES = (None, "", "local", "process", "processes")


def run_pipeline(pipeline: Pipeline | str | Path, parameters: Mapping[str, Any] | None = None,
                 *, workers: int | None = None, executor: str | Executor | None = None,
                 force: bool = False, force_steps: Iterable[str] = (),
                 experiment: str | None = None, client: PipelineClient,
                 progress: bool | str | Progress = "auto", trigger: str = "manual",
                 schedule_id: int | None = None, schedule_slot: float | None = None,
                 pipeline_run_id: str | None = None, raise_on_failure: bool = False,
                 warm_kernels: bool | None = None):
    """Run every step of a pipeline and record it.

    Parameters
    ----------
    pipeline : Pipeline, str or Path
        A :class:`Pipeline` or the path of a ``pipeline.yaml``.
    parameters : mapping, optional
        Overrides of the pipeline's declared parameters (strings are parsed like YAML).
    workers : int, optional
        Parallel steps (default: number of CPUs, or the Dask cluster's threads).
    executor : str or Executor, optional
        ``"local"`` (process pool, default), ``"dask"`` (local Dask cluster),
        ``"tcp://host:port"`` (existing Dask scheduler) or an :class:`Executor` instance
        (which the caller then shuts down).
    force : bool
        Run every step even when the cache has a match.
    force_steps : iterable of str
        Run these steps even when the cache has a match.
    experiment : str, optional
        Experiment of the runs (default: the pipeline's ``experiment`` or its name).
    client : Client
        Store to record in (``mlops.run_pipeline`` passes the fluent API's client).
    progress : bool, str or Progress
        ``"auto"``: a widget in a notebook, a bar on a terminal, log lines otherwise.
    trigger, schedule_id, schedule_slot, pipeline_run_id
        Set by the scheduler: why the run started and which schedule slot it serves.
    raise_on_failure : bool
        Raise :class:`StepExecutionError` if a step failed (default: return the record).
    warm_kernels : bool, optional
        Local executor: start the kernels of the next steps while the current ones run
        (each kernel still serves one step only). Default: on, unless the environment
        variable ``MLOPS_WARM_KERNELS`` is ``0``.

    Returns
    -------
    PipelineRunRecord
        The pipeline run with one :class:`StepRunRecord` per step.

    Raises
    ------
    InvalidInputError
        The pipeline is invalid (every problem is listed), a parameter is wrong, or a
        step's notebook names no kernel and the step sets none (papermill refuses those).
    StepExecutionError
        Only with ``raise_on_failure``: names the first failed step and its cell.
    """
    spec = pipeline if isinstance(pipeline, Pipeline) else Pipeline.load(pipeline)
    raw_spec = spec
    spec = spec.with_parameters(parameters).validate()
    kernels = step_kernels(spec)
    force_steps = set(force_steps)
    for name in force_steps:
        spec.step(name)  # NotFoundError for a typo
    pstore = client.stores.pipelines
    pipe = pstore.save_pipeline(spec.name, raw_spec.to_dict(), raw_spec.digest(), spec.path)
    owned = executor is None or isinstance(executor, str)
    ex = _make_executor(executor, workers, warm_kernels)
    try:
        with _sigterm_raises():
            # No ex.warm_up() here: the first submitted step does it, after the cache was
            # checked, so a fully cached run never imports papermill nor starts a worker.
            run = _PipelineRun(client, pstore, spec, pipe.id, ex, experiment or spec.experiment
                               or spec.name, force, force_steps, trigger, schedule_id,
                               pipeline_run_id, progress, kernels)
            if schedule_id is not None and schedule_slot is not None:
                pstore.update_fire(schedule_id, schedule_slot, pipeline_run_id=run.prid)
            record = run.execute()
    finally:
        if owned:
            ex.shutdown()
    if raise_on_failure and record.status != "SUCCEEDED":
        failed = next((s for s in record.steps if s.status == "FAILED"), None)
        raise StepExecutionError(
            f"Pipeline {spec.name!r} {record.status.lower()}: "
            f"{failed.step + ': ' + (failed.error or '') if failed else record.error}. "
            f"See `jupyter mlops pipeline show {record.id[:12]}`.",
            step=failed.step if failed else None)
    return record


def _make_executor(executor, workers: int | None, warm_kernels: bool | None):
    """The local executor as a :class:`_LazyLocal` (built when a step is submitted, so a
    fully cached run imports neither the executors nor the kernel machinery); anything else
    (Dask, a scheduler address, an :class:`Executor` instance, a typo) as before."""
    if executor in LOCAL_NAMES:
        return _LazyLocal(workers, warm_kernels)
    from jupyter_mlops.pipelines.executors import make_executor

    return make_executor(executor, workers, warm_kernels)


class _LazyLocal:
    """A :class:`~jupyter_mlops.pipelines.executors.LocalExecutor` built on first use.

    ``name`` and ``workers`` are known without building it (the same values
    ``LocalExecutor`` computes); ``prestart``, ``shutdown`` and ``abort`` before the first
    submission do nothing, as they would on a fresh executor with no kernels.
    """

    def __init__(self, workers: int | None, warm_kernels: bool | None):
        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.name = f"local:{self.workers}"
        self._args = (workers, warm_kernels)
        self._real = None

    def _get(self):
        if self._real is None:
            from jupyter_mlops.pipelines.executors import LocalExecutor

            self._real = LocalExecutor(*self._args)
        return self._real

    def warm_up(self) -> None:
        self._get().warm_up()

    def submit(self, fn, arg, callback) -> None:
        self._get().submit(fn, arg, callback)

    def prestart(self, kernels) -> None:
        if self._real is not None or kernels:
            self._get().prestart(kernels)

    def abort(self) -> None:
        if self._real is not None:
            self._real.abort()

    def shutdown(self) -> None:
        if self._real is not None:
            self._real.shutdown()


def step_kernels(spec: Pipeline) -> dict[str, str]:
    """The kernel of every step: its ``kernel`` field, else its notebook's kernelspec.

    A notebook that names no kernel is refused before anything runs, as papermill refuses
    it ("No kernel name found in notebook"): guessing ``python3`` would run an R or Julia
    notebook, or one saved by a tool that writes no kernelspec, in the wrong language.
    """
    import json

    kernels: dict[str, str] = {}
    problems: list[str] = []
    for step in spec.steps:
        if step.kernel:
            kernels[step.name] = step.kernel
            continue
        try:
            nb = json.loads(spec.resolve_path(step.notebook).read_text(encoding="utf-8"))
            meta = nb.get("metadata") if isinstance(nb, dict) else None
            ks = (meta or {}).get("kernelspec") if isinstance(meta, dict) else None
            name = ks.get("name") if isinstance(ks, dict) else None
        except (OSError, ValueError) as exc:
            problems.append(f"step {step.name!r}: field 'notebook': cannot read "
                            f"{step.notebook!r} ({exc})")
            continue
        if not isinstance(name, str) or not name.strip():
            problems.append(
                f"step {step.name!r}: field 'kernel': the notebook {step.notebook!r} names no "
                "kernel (metadata.kernelspec.name) and papermill will not guess one: set "
                "`kernel: python3` (or another kernel) on the step, or open the notebook in "
                "Jupyter, pick a kernel and save it")
            continue
        kernels[step.name] = name
    if problems:
        raise InvalidInputError(f"{spec.path or spec.name}: {len(problems)} problem(s):\n  "
                                + "\n  ".join(problems))
    return kernels


class Terminated(SystemExit):
    """SIGTERM arrived while a pipeline ran (raised in the main thread, like Ctrl-C)."""

    def __init__(self):
        super().__init__(128 + signal.SIGTERM)

    def __str__(self) -> str:
        return "received SIGTERM"


@contextlib.contextmanager
def _sigterm_raises():
    """Turn SIGTERM into :class:`Terminated` while a pipeline runs, so it is recorded KILLED
    and its kernels (running and started ahead of time) are stopped — only if nobody else
    handles SIGTERM (a server does) and this is the main thread (where signals arrive)."""
    def raise_terminated(signum, frame):
        raise Terminated()

    try:
        installed = (threading.current_thread() is threading.main_thread()
                     and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)
        if installed:
            signal.signal(signal.SIGTERM, raise_terminated)
    except (ValueError, OSError):  # no signals here (embedded interpreter)
        installed = False
    try:
        yield
    finally:
        if installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


class _PipelineRun:
    def __init__(self, client: PipelineClient, pstore, spec: Pipeline, pipeline_id: int,
                 ex: Executor, experiment: str, force: bool, force_steps: set[str], trigger: str,
                 schedule_id: int | None, pipeline_run_id: str | None, progress,
                 kernels: dict[str, str]):
        self.client, self.pstore, self.spec, self.ex = client, pstore, spec, ex
        self.force, self.force_steps = force, force_steps
        self.order = spec.order()
        self.states = {n: "PENDING" for n in self.order}
        self.attempts = {n: 0 for n in self.order}
        self.outputs: dict[str, dict] = {}
        self.keys: dict[str, str | None] = {}
        self.run_ids: dict[str, str] = {}
        self.started: dict[str, float] = {}
        self.retry_at: dict[str, float] = {}
        self.errors: dict[str, str] = {}
        self.done: queue.Queue = queue.Queue()
        self.running = 0
        self.submitted = 0
        self._kernels = kernels
        self._env: dict[str, str] | None = None
        self.parent = client.create_run(
            experiment=experiment, name=spec.name,
            tags={"mlops.pipeline": spec.name, "mlops.trigger": trigger})
        if spec.parameters:
            client.log_params(self.parent.id, spec.parameters)
        self.prid = pstore.create_pipeline_run(
            pipeline_id, self.order, run_id=self.parent.id, parameters=dict(spec.parameters),
            trigger=trigger, executor=ex.name, schedule_id=schedule_id,
            pipeline_run_id=pipeline_run_id)
        client.set_tags(self.parent.id, {"mlops.pipeline_run": self.prid})
        self.rec = Recorder(client, pstore, spec, self.prid, self.parent.id, experiment)
        self.experiment = experiment
        self.progress = make_progress(progress, self.order, spec.name)
        self._env_digest = None

    # ----------------------------------------------------------------- main loop
    def execute(self):
        status, error = "FAILED", None
        try:
            self._loop()
            failed = [n for n, s in self.states.items() if s not in FINAL_OK]
            status = "FAILED" if failed else "SUCCEEDED"
            if failed:
                error = "; ".join(f"{n}: {self.states[n]}" + (f" ({self.errors[n]})"
                                  if n in self.errors else "") for n in failed)[:4000]
        except BaseException as exc:
            status, error = "KILLED", f"interrupted: {type(exc).__name__}: {exc}"
            self._abandon(error)
            raise
        finally:
            with contextlib.suppress(Exception):
                self.ex.prestart([])  # no spare kernel outlives the run
            self.client.end_run(self.parent.id, {"SUCCEEDED": "FINISHED", "FAILED": "FAILED"}
                                .get(status, "KILLED"))
            self.pstore.finish_pipeline_run(self.prid, status, error)
            self.progress.close(f"{self.spec.name}: {status.lower()}")
            if status == "FAILED":
                self._tell_failed(error)
        return self.pstore.get_pipeline_run(self.prid)

    def _tell_failed(self, error: str | None) -> None:
        """Send ``pipeline.failed`` through the client's notify hook (its webhooks); the
        run is recorded whatever happens to the notification."""
        notify = getattr(self.client, "notify", None)
        if notify is None:
            return
        try:
            notify("pipeline.failed", {
                "pipeline": self.spec.name, "pipeline_run_id": self.prid,
                "run_id": self.parent.id, "error": error,
                "failed_steps": [n for n, s in self.states.items() if s not in FINAL_OK]})
        except Exception:  # noqa: BLE001 - never fail a finished pipeline run over a webhook
            log.exception("pipeline run %s: could not queue the pipeline.failed webhook",
                          self.prid)

    def _loop(self) -> None:
        while True:
            self._start_ready()
            self._prestart()
            if self.running == 0 and not self.retry_at:
                if not any(s == "PENDING" for s in self.states.values()):
                    return
                if not self._ready():
                    return  # cannot happen for a validated DAG; never spin
                continue
            finished = self._next_finished()
            if finished is None:
                continue  # a retry fell due first
            step, outcome, exc = finished
            self.running -= 1
            self._finished(step, outcome, exc)

    def _next_finished(self) -> tuple | None:
        """The next finished step, or None once a retry falls due. Waits in short slices:
        the OS may hand a Ctrl-C (or SIGTERM) to any thread, and when a step thread gets it
        the main thread learns of it only when it next runs Python code; a wait without a
        timeout held it until a step ended (minutes, with a long cell)."""
        while True:
            due = min(self.retry_at.values()) if self.retry_at else None
            wait = SIGNAL_POLL_S if due is None else min(SIGNAL_POLL_S,
                                                         max(0.0, due - time.time()))
            try:
                return self.done.get(timeout=wait)
            except queue.Empty:
                if due is not None and time.time() >= due:
                    return None

    def _ready(self) -> list[str]:
        now = time.time()
        out = []
        for n in self.order:
            if self.states[n] != "PENDING":
                continue
            if n in self.retry_at and self.retry_at[n] > now:
                continue
            if all(self.states[d] in FINAL_OK for d in self.spec.step(n).depends_on):
                out.append(n)
        return out

    def _prestart(self) -> None:
        """Tell the executor which kernels the next steps need: the pending steps whose
        dependencies are all running or done (so they may start as soon as a worker frees
        up). Only once a step has been submitted: a fully cached run starts no kernel."""
        if not self.submitted:
            return
        busy = ("RUNNING", *FINAL_OK)
        nxt = [self._kernel_key(n) for n in self.order if self.states[n] == "PENDING"
               and all(self.states[d] in busy for d in self.spec.step(n).depends_on)]
        self.ex.prestart(nxt)

    def _kernel_key(self, name: str) -> KernelKey:
        from jupyter_mlops.pipelines.kernels import KernelKey

        step = self.spec.step(name)
        return KernelKey.of(self._kernel(step), str(self.spec.base_dir), self._env_base())

    def _env_base(self) -> dict[str, str]:
        """The kernel environment shared by every attempt of this run."""
        if self._env is None:
            store = self.client.store
            self._env = {"MLOPS_TRACKING_URI": store.url,
                         "MLOPS_ARTIFACT_ROOT": store.artifact_root,
                         "MLOPS_PARENT_RUN_ID": self.parent.id,
                         "MLOPS_EXPERIMENT": self.experiment, "MLOPS_USER": current_user()}
        return dict(self._env)

    def _start_ready(self) -> None:
        for name in self._ready():
            if self.running >= self.ex.workers:
                return
            self.retry_at.pop(name, None)
            step = self.spec.step(name)
            if self.attempts[name] == 0 and self._try_cache(step):
                continue
            self._submit(step)

    # ----------------------------------------------------------------- cache
    def _try_cache(self, step: Step) -> bool:
        try:
            key = self._cache_key(step)
        except Exception as exc:  # an unreadable input fails the step, with the reason
            self._fail_final(step.name, f"cannot compute the cache key: {exc}")
            return True
        self.keys[step.name] = key
        if not step.cache or self.force or step.name in self.force_steps:
            return False
        hit = self.pstore.find_cached_step(key)
        if hit is None or not self.rec.hit_usable(hit):
            return False
        t0 = time.time()
        run_id = self.rec.restore(step, hit)
        self.states[step.name] = "CACHED"
        self.outputs[step.name] = hit.outputs or {}
        self.pstore.update_step(self.prid, step.name, status="CACHED", run_id=run_id,
                                cache_key=key, cached_from=hit.id, outputs=hit.outputs,
                                notebook_digest=hit.notebook_digest, started_at=t0,
                                ended_at=time.time())
        self.progress.update(self.states, f"{step.name}: cached")
        return True

    def _cache_key(self, step: Step) -> str:
        hashes = self.client.hash_cache()
        inputs = {}
        for i in step.inputs:
            if i.path is not None:
                inputs[i.path] = hashes.hash(self.spec.resolve_path(i.path))
            else:
                inputs[f"dataset:{i.dataset}"] = self.client.get_dataset(i.dataset,
                                                                         i.version).digest
        upstream = {f"{d}/{o}": info["digest"] for d in step.depends_on
                    for o, info in sorted(self.outputs.get(d, {}).items())}
        if self._env_digest is None:
            from jupyter_mlops.tracking.capture import environment

            self._env_digest = environment().digest
        return cache_key(code=normalise_notebook(self.spec.resolve_path(step.notebook)),
                         parameters=step.parameters, inputs=inputs, upstream=upstream,
                         kernel=self._kernel(step), environment=self._env_digest)

    # ----------------------------------------------------------------- execution
    def _kernel(self, step: Step) -> str:
        return self._kernels[step.name]  # read once, before the run (step_kernels)

    def _submit(self, step: Step) -> None:
        name = step.name
        self.attempts[name] += 1
        attempt = self.attempts[name]
        run_id = self.rec.start_attempt(step, attempt)
        self.run_ids[name] = run_id
        t0 = time.time()
        self.started.setdefault(name, t0)
        self.states[name] = "RUNNING"
        self.pstore.update_step(self.prid, name, status="RUNNING", run_id=run_id,
                                attempts=attempt, cache_key=self.keys.get(name),
                                started_at=self.started[name])
        store = self.client.store
        env = {**self._env_base(), "MLOPS_RUN_ID": run_id,
               "MLOPS_NOTEBOOK_PATH": str(self.spec.resolve_path(step.notebook))}
        task = StepTask(
            pipeline=self.spec.name, step=name, attempt=attempt,
            notebook=str(self.spec.resolve_path(step.notebook)), cwd=str(self.spec.base_dir),
            parameters=dict(step.parameters), kernel=self._kernel(step),
            timeout=step.timeout, env=env, artifact_root=store.artifact_root,
            outputs=tuple((o.name, str(self.spec.resolve_path(o.path))) for o in step.outputs))
        if not self.submitted:
            self.ex.warm_up()  # once, and only when a step really runs (see run_pipeline)
        self.running += 1
        self.submitted += 1
        self.ex.submit(execute_step, task,
                       lambda result, exc, n=name: self.done.put((n, result, exc)))
        self.progress.update(self.states, f"{name}: running"
                             + (f" (attempt {attempt})" if attempt > 1 else ""))

    def _finished(self, name: str, outcome: StepOutcome | None, exc) -> None:
        step = self.spec.step(name)
        run_id = self.run_ids[name]
        if outcome is None:  # the worker itself failed (died, unpicklable…)
            outcome = StepOutcome(name, self.attempts[name], "FAILED",
                                  f"worker failed: {type(exc).__name__}: {exc}", "worker",
                                  None, None, None, {}, time.time(), time.time(), None, "?")
        self.rec.finish_attempt(step, run_id, outcome)
        if outcome.status == "SUCCEEDED":
            self.states[name] = "SUCCEEDED"
            self.outputs[name] = outcome.outputs
            self.pstore.update_step(self.prid, name, status="SUCCEEDED", outputs=outcome.outputs,
                                    notebook_digest=outcome.notebook_digest,
                                    ended_at=outcome.ended_at, error=None)
            self.progress.update(self.states, f"{name}: succeeded in "
                                 f"{outcome.ended_at - outcome.started_at:.1f} s")
            return
        self.errors[name] = outcome.error or "failed"
        if self.attempts[name] <= step.retries:
            self.states[name] = "PENDING"
            self.retry_at[name] = time.time() + float(step.retry_delay)
            self.pstore.update_step(self.prid, name, status="PENDING", error=outcome.error,
                                    notebook_digest=outcome.notebook_digest)
            self.progress.update(self.states, f"{name}: attempt {self.attempts[name]} failed "
                                 f"({outcome.error}); retrying")
            return
        self.pstore.update_step(self.prid, name, notebook_digest=outcome.notebook_digest)
        self._fail_final(name, outcome.error or "failed", outcome.ended_at)

    def _fail_final(self, name: str, error: str, ended: float | None = None) -> None:
        self.states[name] = "FAILED"
        self.errors[name] = error
        self.pstore.update_step(self.prid, name, status="FAILED", error=error,
                                ended_at=ended or time.time())
        for d in sorted(self.spec.descendants(name)):
            if self.states[d] == "PENDING":
                self.states[d] = "SKIPPED"
                self.pstore.update_step(self.prid, d, status="SKIPPED",
                                        error=f"upstream step {name!r} failed")
        self.progress.update(self.states, f"{name}: FAILED ({error})")

    def _abandon(self, reason: str) -> None:
        """Interrupted: stop workers, close open runs, mark what never finished."""
        try:
            self.ex.abort()
        finally:
            for n, s in self.states.items():
                if s == "RUNNING":
                    self.client.end_run(self.run_ids[n], "KILLED")
                    self.pstore.update_step(self.prid, n, status="FAILED", error=reason,
                                            ended_at=time.time())
                elif s == "PENDING":
                    self.pstore.update_step(self.prid, n, status="SKIPPED", error=reason)

