"""Where step attempts run: a local process pool (default) or a Dask distributed cluster.

Both take the same picklable :class:`~jupyter_mlops.pipelines.step.StepTask` and call
:func:`~jupyter_mlops.pipelines.step.execute_step` (which runs the notebook in its own kernel
process), so records and results are the same whichever runs them. The pipeline runner only needs
:meth:`Executor.submit` with a completion callback; it never waits on a future itself.

Dask workers must run the same Python environment (the ``python3`` kernelspec resolves
there) and see the pipeline folder and the artifact root at the same paths: a shared file
system or an fsspec artifact root such as ``s3://…``.
"""

from __future__ import annotations

import abc
import functools
import os
from collections.abc import Callable, Sequence
from typing import Any

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.extras import require
from jupyter_mlops.pipelines.kernels import KernelKey, KernelPool, warm_kernels_enabled
from jupyter_mlops.pipelines.step import Attempts

Callback = Callable[[Any, BaseException | None], None]


class Executor(abc.ABC):
    """Runs step tasks in parallel; each task's notebook runs in its own kernel process."""

    #: Shown in the pipeline run's ``executor`` column.
    name: str = "executor"
    #: How many tasks may run at once.
    workers: int = 1

    @abc.abstractmethod
    def submit(self, fn: Callable, arg: Any, callback: Callback) -> None:
        """Run ``fn(arg)`` in a worker; call ``callback(result, error)`` when it is done.

        ``callback`` may run on another thread; exactly one of ``result``/``error`` is set.
        """

    @abc.abstractmethod
    def shutdown(self) -> None:
        """Stop the workers (and a cluster this executor started); idempotent."""

    def warm_up(self) -> None:
        """Start workers and import papermill in them, so the first step does not wait."""

    def prestart(self, kernels: Sequence[KernelKey]) -> None:
        """The kernels the next steps will need, most urgent first (``[]``: none any more).

        An executor may start some of them ahead of time (the local one does); each kernel
        still serves one step only. The default does nothing.
        """

    def abort(self) -> None:
        """Stop now, abandoning running tasks (their kernels exit with their worker)."""
        self.shutdown()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()


class LocalExecutor(Executor):
    """Up to ``workers`` steps at once on this machine, each in its own kernel process.

    The step's code always runs out of process, in the kernel papermill starts; what runs in
    this process is only the papermill/nbclient client, which waits on sockets. So a pool of
    threads drives the kernels: a process pool would add nothing but a second layer of
    processes, the re-import of ``__main__`` in every worker (``spawn``/``forkserver`` break
    scripts without an ``if __name__ == "__main__"`` guard) or forking a threaded parent
    (``fork``; unsafe inside the Jupyter server).

    While steps run, the kernels the next steps need are started ahead of time
    (:class:`~jupyter_mlops.pipelines.kernels.KernelPool`: at most one spare per worker,
    each kernel used by one step only), so a step does not wait for its kernel to start.

    Parameters
    ----------
    workers : int, optional
        Default: the number of CPUs.
    warm_kernels : bool, optional
        Start kernels ahead of time (default: on unless ``MLOPS_WARM_KERNELS=0``).
    """

    def __init__(self, workers: int | None = None, warm_kernels: bool | None = None):
        from concurrent.futures import ThreadPoolExecutor

        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.name = f"local:{self.workers}"
        self._pool = ThreadPoolExecutor(max_workers=self.workers,
                                        thread_name_prefix="mlops-step")
        #: The kernels started ahead of time (None when turned off).
        self.kernels = KernelPool(self.workers) if warm_kernels_enabled(warm_kernels) else None
        #: The step attempts this executor runs, for :meth:`abort`.
        self.attempts = Attempts()

    def warm_up(self) -> None:
        from jupyter_mlops.pipelines.step import warm_up

        warm_up()

    def prestart(self, kernels: Sequence[KernelKey]) -> None:
        if self.kernels is not None:
            self.kernels.want(kernels)

    def submit(self, fn: Callable, arg: Any, callback: Callback) -> None:
        from jupyter_mlops.pipelines.step import StepTask

        kernel = None
        if isinstance(arg, StepTask):
            if self.kernels is not None:
                # Taken here, in the submitting thread, so the runner's next `prestart`
                # already counts it as used.
                kernel = self.kernels.take(KernelKey.of(arg.kernel, arg.cwd, arg.env))
            fn = functools.partial(fn, kernel=kernel, attempts=self.attempts)
        future = self._pool.submit(fn, arg)

        def done(f):
            if f.cancelled():
                if kernel is not None:
                    kernel.discard()
                callback(None, RuntimeError("cancelled: the executor was shut down"))
                return
            exc = f.exception()
            callback(None if exc else f.result(), exc)

        future.add_done_callback(done)

    def shutdown(self) -> None:
        try:
            if self.kernels is not None:
                self.kernels.close()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def abort(self) -> None:
        if self.kernels is not None:
            self.kernels.close()
        self.attempts.stop_all()  # running steps then fail fast and their threads return
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(Executor):
    """Run steps on a Dask distributed cluster.

    Parameters
    ----------
    address : str, optional
        ``tcp://host:port`` of a running scheduler; ``None`` starts a local cluster of
        ``workers`` single-threaded worker processes (closed again by :meth:`shutdown`).
    workers : int, optional
        Size of the local cluster (default: the number of CPUs).
    """

    def __init__(self, address: str | None = None, workers: int | None = None):
        require("distributed", extra="dask", feature="The Dask executor")
        from distributed import Client, LocalCluster
        self._cluster = None
        if address:
            self._client = Client(address, timeout="30s")
            info = self._client.scheduler_info()
            self.workers = max(1, sum(w.get("nthreads", 1) for w in info["workers"].values()))
            self.name = f"dask:{address}"
        else:
            self.workers = max(1, int(workers or os.cpu_count() or 1))
            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                         processes=True, dashboard_address=None)
            self._client = Client(self._cluster)
            self.name = f"dask:local:{self.workers}"

    @property
    def dask_client(self) -> Any:
        """The ``distributed.Client`` this executor submits to (a sweep's function
        objective submits its trials to it too)."""
        return self._client

    def warm_up(self) -> None:
        from jupyter_mlops.pipelines.step import warm_up

        self._client.run(warm_up)

    def submit(self, fn: Callable, arg: Any, callback: Callback) -> None:
        future = self._client.submit(fn, arg, pure=False)

        def done(f):
            try:
                callback(f.result(), None)
            except BaseException as exc:  # noqa: BLE001 - the runner decides what it means
                callback(None, exc)

        future.add_done_callback(done)

    def shutdown(self) -> None:
        client, cluster = self._client, self._cluster
        self._cluster = None
        try:
            client.close()
        finally:
            if cluster is not None:
                cluster.close()


def make_executor(executor: str | Executor | None, workers: int | None = None,
                  warm_kernels: bool | None = None) -> Executor:
    """``None``/``"local"`` → :class:`LocalExecutor`; ``"dask"`` → a local Dask cluster;
    ``"tcp://host:port"`` → that Dask scheduler; an :class:`Executor` is used as is.
    ``warm_kernels`` only concerns the local executor."""
    if isinstance(executor, Executor):
        return executor
    if executor in (None, "", "local", "process", "processes"):
        return LocalExecutor(workers, warm_kernels)
    if executor == "dask":
        return DaskExecutor(None, workers)
    if isinstance(executor, str) and executor.startswith(("tcp://", "tls://", "ucx://")):
        return DaskExecutor(executor, workers)
    raise InvalidInputError(
        f"Unknown executor {executor!r}: use 'local', 'dask' or a scheduler address such as "
        "tcp://host:8786.")
