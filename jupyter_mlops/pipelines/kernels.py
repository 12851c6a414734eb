"""The kernel of one step attempt, and a pool that starts the next ones ahead of time.

Every attempt runs in a kernel of its own, used once and shut down after it: no variable,
import or working-folder change of one step is ever seen by another. What the pool changes
is only *when* that fresh kernel starts. Starting a kernel (a Python process importing
ipykernel, then the client handshake) costs ≈ 0.5-0.8 s, which bare papermill pays on every
notebook; while the current steps run, :class:`KernelPool` starts the kernels the next steps
will need, so a step whose kernel is already up starts its first cell almost at once.

A kernel started ahead of time cannot know the run it will serve, so it is keyed by what
*can* be known: the kernel name, the working folder and the environment minus the
per-attempt variables (:data:`PER_ATTEMPT_ENV`). Those are set in the kernel's ``os.environ``
by a silent request (no history, no execution count, no name defined) just before the
notebook's first cell; the library reads them when a run is first used, never at import.
Only Python kernels are started ahead of time (that request is Python); others start when
their step does, as without a pool.

The pool is off with ``run_pipeline(warm_kernels=False)``, ``--no-warm-kernels`` or
``MLOPS_WARM_KERNELS=0``. It exists in the local executor only: a Dask worker starts each
step's kernel when the step arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
import tempfile
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

#: Environment variables that differ between attempts of one pipeline run: not part of a
#: pooled kernel's key, set in the kernel when an attempt takes it.
PER_ATTEMPT_ENV = frozenset({"MLOPS_RUN_ID", "MLOPS_PARENT_RUN_ID", "MLOPS_NOTEBOOK_PATH"})

#: Seconds a kernel may take to start and answer (papermill's default ``start_timeout``).
START_TIMEOUT = 60.0
#: Seconds a finished kernel gets to exit after a shutdown request (its exit hooks flush
#: what the notebook logged); then it is killed. jupyter_client's default, too.
SHUTDOWN_WAIT = 5.0
#: An ipykernel whose heartbeat stays silent this long after a shutdown request has run its
#: exit hooks and is only closing its sockets (see :meth:`StepKernel._shutdown`).
HEARTBEAT_TIMEOUT = 0.15
HEARTBEAT_MISSES = 3


def warm_kernels_enabled(flag: bool | None = None) -> bool:
    """``flag`` if given, else ``MLOPS_WARM_KERNELS`` (default on; ``0``/``false``/``no``/``off``)."""
    if flag is not None:
        return bool(flag)
    value = os.environ.get("MLOPS_WARM_KERNELS", "1").strip().lower()
    return value not in ("0", "false", "no", "off")


@dataclasses.dataclass(frozen=True)
class KernelKey:
    """What a kernel started ahead of time must match: kernel name, folder, fixed env."""

    kernel: str
    cwd: str
    env: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, kernel: str, cwd: str, env: Mapping[str, str]) -> KernelKey:
        return cls(kernel, str(cwd), tuple(sorted(
            (k, str(v)) for k, v in env.items() if k not in PER_ATTEMPT_ENV)))


def _client_class():
    from queue import Empty

    from jupyter_client.asynchronous import AsyncKernelClient

    class StepKernelClient(AsyncKernelClient):
        """jupyter_client's client, whose ``wait_for_ready`` returns as soon as the kernel
        has answered and its output channel is proven connected.

        jupyter_client then also waits for 0.2 s of silence on that channel, to drop the
        status messages of its own request; nbclient ignores messages that belong to no
        cell anyway, so on a kernel started ahead of time that wait would be most of the
        time a step spends before its first cell.
        """

        async def wait_for_ready(self, timeout: float | None = None) -> None:
            import time

            deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
            while True:
                self.kernel_info()
                try:
                    msg = await self.shell_channel.get_msg(timeout=1)
                except Empty:
                    pass
                else:
                    if msg["msg_type"] == "kernel_info_reply":
                        try:  # the status messages of that request prove the subscription
                            await self.iopub_channel.get_msg(timeout=0.2)
                        except Empty:
                            pass  # not subscribed yet (zmq connects lazily): ask again
                        else:
                            self._handle_kernel_info_reply(msg)
                            return
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")

    return StepKernelClient


def _manager_class():
    from jupyter_client.manager import AsyncKernelManager

    client_class = _client_class()

    class StepKernelManager(AsyncKernelManager):
        """Starts the kernel in the step's folder with the step's environment, its output
        going to a log file (quoted if the kernel dies) instead of this process's terminal;
        remembers the clients made for it so they can be closed (the caller owns them)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.client_factory = client_class
            self.step_env: dict[str, str] = {}
            self.step_cwd: str | None = None
            self.step_log: Path | None = None
            self.step_clients: list = []
            self.step_log_file = None

        async def _async_pre_start_kernel(self, **kw):
            kw["env"] = {**(kw.get("env") or os.environ), **self.step_env}
            if self.step_cwd is not None:
                kw["cwd"] = self.step_cwd
            if self.step_log is not None:
                log = open(self.step_log, "ab")  # noqa: SIM115, ASYNC230 - the kernel keeps a copy
                self.step_log_file = log
                kw.setdefault("stdout", log)
                kw.setdefault("stderr", log)
            return await super()._async_pre_start_kernel(**kw)

        def client(self, **kwargs):
            kc = super().client(**kwargs)
            self.step_clients.append(kc)
            return kc

    return StepKernelManager


_MANAGER = None


def _manager(kernel: str, env: Mapping[str, str], cwd: str, log: Path):
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = _manager_class()
    km = _MANAGER(kernel_name=kernel)
    km.step_env, km.step_cwd, km.step_log = dict(env), str(cwd), log
    return km


def _run(coro_fn, *args, **kwargs):
    """Run a coroutine function from synchronous code, on this thread's loop (as nbclient)."""
    from jupyter_core.utils import run_sync

    return run_sync(coro_fn)(*args, **kwargs)


class StepKernel:
    """One kernel process, for exactly one step attempt.

    ``env`` is what the process starts with; :meth:`prepare` brings a kernel started ahead
    of time up to date with the attempt's own variables. Cleaning up (closing sockets,
    removing the connection file) happens exactly once, in whichever thread is last to
    hold the kernel: a kernel discarded while a pool thread is still starting it is cleaned
    up by that thread.
    """

    def __init__(self, key: KernelKey, env: Mapping[str, str]):
        self.key = key
        self.env = {k: str(v) for k, v in env.items()}
        self.dir = Path(tempfile.mkdtemp(prefix="mlops-kernel-"))
        self.log_path = self.dir / "kernel.log"
        self.km = _manager(key.kernel, self.env, key.cwd, self.log_path)
        self.proc = None  # the kernel's Popen once launched
        self.ready = threading.Event()  # set when a start ahead of time has finished
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._stopped = False  # no longer wanted: kill on launch, never hand out
        self._booting = False  # a pool thread is starting it (and will clean up if stopped)
        self._cleaned = False

    # ----------------------------------------------------------------- start
    def _start_args(self) -> dict:
        args = []
        if self.km.ipykernel:  # what nbclient adds when it starts the kernel itself
            args.append("--HistoryManager.hist_file=:memory:")
        return {"extra_arguments": args}

    def start(self) -> None:
        """Launch the process from the step's thread (papermill then waits until it answers)."""
        _run(self.km.start_kernel, **self._start_args())
        self._launched()

    def boot(self, timeout: float = START_TIMEOUT) -> None:
        """Launch the process and wait until it answers (a pool thread, with its own loop)."""
        with self._lock:
            self._booting = True
        try:
            asyncio.run(self._boot(timeout))
        finally:
            self.ready.set()

    async def _boot(self, timeout: float) -> None:
        try:
            await self.km.start_kernel(**self._start_args())
            self._launched()
            if not self._stopped:
                kc = self.km.client()
                kc.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
                try:
                    await kc.wait_for_ready(timeout=timeout)
                finally:
                    kc.stop_channels()
                    self.km.step_clients.remove(kc)
        except BaseException as exc:  # noqa: BLE001 - a step asking for it starts its own
            self.error = exc
        with self._lock:
            self._booting = False
            clean = self._stopped or self.error is not None
            self._stopped = self._stopped or self.error is not None
        if clean:
            self._kill()
            await self._cleanup()
            self.remove_files()

    def _launched(self) -> None:
        with self._lock:
            self.proc = getattr(self.km.provisioner, "process", None)
            stopped = self._stopped
        if stopped:  # discarded while it was starting
            self._kill()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def prepare(self, env: Mapping[str, str], timeout: float = 30.0) -> None:
        """Set the attempt's variables that differ from the ones the process started with."""
        changed = {k: str(v) for k, v in env.items() if self.env.get(k) != str(v)}
        if not changed:
            return
        _run(self._set_env, changed, timeout)
        self.env.update(changed)

    async def _set_env(self, changed: dict[str, str], timeout: float) -> None:
        import time

        kc = self.km.client()
        kc.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
        try:
            # Nothing is bound in the user namespace, nothing is kept in the history.
            msg_id = kc.execute(f"__import__('os').environ.update({changed!r})", silent=True,
                                store_history=False, allow_stdin=False)
            deadline = time.monotonic() + timeout
            while True:
                reply = await kc.get_shell_msg(timeout=max(0.01, deadline - time.monotonic()))
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            if reply["content"].get("status") != "ok":
                raise RuntimeError("could not set the step's environment in the kernel: "
                                   f"{reply['content'].get('ename')}: "
                                   f"{reply['content'].get('evalue')}")
        finally:
            kc.stop_channels()
            self.km.step_clients.remove(kc)

    # ----------------------------------------------------------------- stop
    def stop(self, graceful: bool) -> None:
        """Shut the kernel down and free what it holds (call from the thread using it).

        ``graceful``: ask it to exit, so its ``atexit`` hooks flush what the notebook logged,
        escalating to SIGTERM and SIGKILL if it does not; otherwise kill it at once. Either
        way its whole process group is killed last: nothing it spawned is left behind.
        """
        with self._lock:
            self._stopped = True
            booting = self._booting
        if graceful and not booting and self.alive():
            with contextlib.suppress(Exception):
                _run(self._shutdown)
        self._kill()
        if not booting:
            _run(self._cleanup)

    def discard(self) -> None:
        """Stop a kernel nobody will use (a spare, or one whose start failed)."""
        self.stop(graceful=False)
        with self._lock:
            booting = self._booting
        if not booting:
            self.remove_files()

    def remove_files(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    async def _shutdown(self) -> None:
        """Ask the kernel to exit and wait until it has, or has nothing left worth waiting for.

        No interrupt first (jupyter_client's ``shutdown_kernel`` sends SIGINT): the notebook
        has finished, there is nothing to interrupt.

        An ipykernel answers heartbeats until the last step of its exit, closing its sockets
        (``IPKernelApp.close``, an exit hook registered when the kernel started, so it runs
        after every hook the notebook's code registered: the library's flush of logged
        values, the user's own). That step sometimes hangs for its 10-second flush timeout
        (its control thread flushes output through an I/O thread the main thread has just
        stopped, then the main thread joins it); jupyter_client then waits 2.5 s and sends
        SIGTERM. So once the heartbeat has been silent ``HEARTBEAT_MISSES`` times in a row,
        the kernel is killed at once; while it answers, it gets up to ``SHUTDOWN_WAIT``.
        """
        await self.km.request_shutdown()
        probe = _Heartbeat(self.km) if self._is_ipykernel() else None
        if probe is None:
            await self.km.finish_shutdown(waittime=SHUTDOWN_WAIT, pollinterval=0.01)
            return
        import time

        deadline = time.monotonic() + SHUTDOWN_WAIT
        try:
            while self.alive() and time.monotonic() < deadline:
                if probe.check() >= HEARTBEAT_MISSES:
                    break  # past its exit hooks: the caller kills the process group
                await asyncio.sleep(0.01)
        finally:
            probe.close()

    def _is_ipykernel(self) -> bool:
        try:
            return any("ipykernel" in str(a) for a in self.km.kernel_spec.argv)
        except Exception:  # noqa: BLE001 - unknown: wait as jupyter_client does
            return False

    async def _cleanup(self) -> None:
        with self._lock:
            if self._cleaned:
                return
            self._cleaned = True
        for kc in list(self.km.step_clients):
            with contextlib.suppress(Exception):
                kc.stop_channels()
        self.km.step_clients.clear()
        prov = self.km.provisioner
        if prov is not None and self.proc is not None and self.proc.poll() is not None:
            with contextlib.suppress(Exception):
                await prov.wait()  # reaps it and closes its pipes
        with contextlib.suppress(Exception):
            await self.km.cleanup_resources()
        if self.km.step_log_file is not None:
            self.km.step_log_file.close()

    def _kill(self) -> None:
        with self._lock:
            proc = self.proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            os.killpg(proc.pid, signal.SIGKILL)  # jupyter_client gives each kernel a group
        with contextlib.suppress(Exception):
            proc.wait(timeout=5)


class _Heartbeat:
    """Pings a kernel's heartbeat socket without blocking (call :meth:`check` often)."""

    def __init__(self, km):
        if km.transport == "tcp":
            self.url = f"tcp://{km.ip}:{km.hb_port}"
        else:
            self.url = f"{km.transport}://{km.ip}-{km.hb_port}"
        self.sock = None
        self.sent = 0.0
        self.misses = 0

    def check(self) -> int:
        """Consecutive unanswered pings so far."""
        import time

        import zmq

        now = time.monotonic()
        if self.sock is None:
            self.sock = zmq.Context.instance().socket(zmq.REQ)
            self.sock.linger = 0
            self.sock.connect(self.url)
            self.sock.send(b"ping")
            self.sent = now
        elif self.sock.poll(0):
            self.misses = 0
            self.close()
        elif now - self.sent > HEARTBEAT_TIMEOUT:
            self.misses += 1
            self.close()
        return self.misses

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close(0)
            self.sock = None


class KernelPool:
    """Kernels started ahead of time for the next steps, at most ``size`` at once.

    The runner says which kernels its next steps need (:meth:`want`); the executor takes one
    for a step as it submits it (:meth:`take`). A kernel is handed out once and never comes
    back. Spares nobody needs any more are killed at once, all of them by :meth:`close`.
    """

    def __init__(self, size: int, start_timeout: float = START_TIMEOUT):
        self.size = max(0, int(size))
        self.start_timeout = start_timeout
        self._lock = threading.Lock()
        self._spares: list[StepKernel] = []
        self._threads: set[threading.Thread] = set()
        self._poolable: dict[str, bool] = {}
        self._closed = False
        #: Kernels started ahead of time, and how many of them a step used.
        self.started = 0
        self.used = 0

    def take(self, key: KernelKey) -> StepKernel | None:
        """A spare for ``key`` (ready or still starting), or None: the step starts its own."""
        with self._lock:
            for i, kernel in enumerate(self._spares):
                if kernel.key == key and kernel.error is None:
                    del self._spares[i]
                    self.used += 1
                    return kernel
        return None

    def want(self, keys: Sequence[KernelKey]) -> None:
        """Keep kernels ready for the first ``size`` of ``keys`` (the most urgent first)."""
        wanted = Counter(k for k in list(keys)[: self.size] if self._can_pool(k.kernel))
        drop: list[StepKernel] = []
        start: list[StepKernel] = []
        with self._lock:
            if self._closed:
                return
            have: Counter = Counter()
            keep = []
            for kernel in self._spares:
                if kernel.error is None and have[kernel.key] < wanted[kernel.key]:
                    have[kernel.key] += 1
                    keep.append(kernel)
                else:
                    drop.append(kernel)
            self._spares = keep
            for key, n in wanted.items():
                for _ in range(n - have[key]):
                    kernel = StepKernel(key, {**os.environ, **dict(key.env)})
                    self._spares.append(kernel)
                    start.append(kernel)
            self.started += len(start)
        for kernel in drop:
            kernel.discard()
        for kernel in start:
            thread = threading.Thread(target=self._boot, args=(kernel,), daemon=True,
                                      name="mlops-kernel-start")
            with self._lock:
                self._threads.add(thread)
            thread.start()

    def _boot(self, kernel: StepKernel) -> None:
        try:
            kernel.boot(self.start_timeout)  # a failed start cleans up after itself
            if kernel.error is not None:
                with self._lock:
                    if kernel in self._spares:
                        self._spares.remove(kernel)
                    # Do not try again ahead of time: the steps start their own kernels
                    # (and report the error if it is theirs too).
                    self._poolable[kernel.key.kernel] = False
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _can_pool(self, kernel: str) -> bool:
        """Python kernels only (the per-attempt variables are set with a Python request)."""
        ok = self._poolable.get(kernel)
        if ok is None:
            try:
                from jupyter_client.kernelspec import KernelSpecManager

                spec = KernelSpecManager().get_kernel_spec(kernel)
                ok = (spec.language or "").lower() == "python"
            except Exception:  # noqa: BLE001 - no such kernel: the step reports it as it starts
                ok = False
            self._poolable[kernel] = ok
        return ok

    def close(self, timeout: float = 15.0) -> None:
        """Kill every spare (started or starting) and wait for the start threads to end."""
        with self._lock:
            self._closed = True
            spares, self._spares = self._spares, []
            threads = list(self._threads)
        for kernel in spares:
            kernel.discard()
        for thread in threads:
            thread.join(timeout)
