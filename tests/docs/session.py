"""Run one document's blocks as its reader would: in order, in one folder, in one kernel.

A :class:`DocSession` owns a project folder, one IPython kernel (started on the document's first
Python block) and the background processes the document started. Asking it for a block's
:class:`Outcome` runs every earlier block of the document first, once, so selecting a single
block with ``-k`` still runs it after what the reader would have run before it.

Failing rules, applied to every block:

* Python: the cell raised (the message is the traceback's last line, with the document line of
  the statement when the traceback names it), ran past the timeout, killed the kernel, or
  printed a default object repr (``<pkg.Thing object at 0x7f…>``) — a reader cannot use that.
* Shell: bash ``-euo pipefail`` exited non-zero (the message names the failing command's line
  and its last line of stderr) or ran past the timeout.
* Background: exited before listening on the ``--port`` its command names (or, naming no
  port, within its first seconds), or did not listen within 30 s.
* After a block fails, the later blocks of the document fail with "earlier block L… failed"
  without running (their state would be the failure's, not the document's) — unless
  ``DOCS_TEST_KEEP_GOING=1``, which runs them anyway to show each block's own error.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from queue import Empty

from .blocks import Block, Document, shell_script

#: Seconds a block may run (a pipeline run in a doc takes tens of seconds on a busy machine).
BLOCK_TIMEOUT = float(os.environ.get("DOCS_TEST_BLOCK_TIMEOUT", "300"))
#: Seconds a background block gets to start listening.
LISTEN_TIMEOUT = 30.0
#: Seconds a background block naming no port must stay alive to count as started.
SETTLE_SECONDS = 3.0
#: Folders of the repository a reader of the docs has next to them (repo-relative paths in the
#: docs, such as examples/pipeline/pipeline.yaml, resolve in the project folder).
REPO_FOLDERS = ("examples", "notebooks")

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_RAW_REPR = re.compile(r"<[A-Za-z_][\w.]* object at 0x[0-9a-fA-F]+>")
_PORT = re.compile(r"--port[= ](\d{2,5})\b")
_ERR_MARK = "::docs-test-err::"
# Reports the failing command's line: `set -e` alone exits without saying which one failed.
_ERR_TRAP = f"trap 'rc=$?; echo \"{_ERR_MARK} $LINENO $rc\" >&2' ERR\n"


@dataclass(frozen=True)
class Outcome:
    status: str          # "passed" | "failed" | "skipped"
    message: str = ""

    @property
    def summary(self) -> str:
        return self.message.splitlines()[0] if self.message else self.status


def make_project(repo: Path, dest: Path) -> Path:
    """A fresh project folder: an empty ``.mlops/`` store and a copy of ``examples/`` and
    ``notebooks/`` as a clone has them (tracked and untracked files, nothing git ignores:
    no outputs of an earlier run of an example)."""
    (dest / ".mlops").mkdir(parents=True)
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--",
             *REPO_FOLDERS], cwd=repo, check=True, capture_output=True).stdout
        files = [f for f in listed.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):   # not a git checkout (an sdist)
        files = [str(p.relative_to(repo)) for d in REPO_FOLDERS
                 for p in (repo / d).rglob("*") if p.is_file()]
    for rel in files:
        source = repo / rel
        if source.is_file():                     # listed but deleted in the work tree
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    return dest


def reader_env(home: Path) -> dict[str, str]:
    """The environment of a reader with the venv activated and no MLOPS_* variable set.

    Without ``MLOPS_TRACKING_URI``/``MLOPS_ARTIFACT_ROOT`` the store is found the way the
    README says (the project's ``.mlops/``). ``MLOPS_HOME`` (the user default, and where
    ``serve`` writes its token file) points into the test's temp folder so a docs run never
    touches the real ``~/.mlops``.
    """
    venv_bin = str(Path(sys.prefix) / "bin")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLOPS_", "PYTEST_", "JPY_"))}
    env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "")])
    env["VIRTUAL_ENV"] = sys.prefix
    env["MLOPS_HOME"] = str(home)
    return env


class DocSession:
    """One document's run: its folder, kernel, background processes and outcomes so far."""

    def __init__(self, doc: Document, project: Path, env: dict[str, str], logs: Path,
                 keep_going: bool | None = None, timeout: float = BLOCK_TIMEOUT):
        self.doc = doc
        self.project = project
        self.env = env
        self.logs = logs
        self.timeout = timeout
        self.keep_going = (os.environ.get("DOCS_TEST_KEEP_GOING", "") not in ("", "0")
                           if keep_going is None else keep_going)
        self.outcomes: dict[Block, Outcome] = {}
        self.first_failure: Block | None = None
        self._kernel = None
        self._background: list[tuple[Block, subprocess.Popen, Path]] = []
        logs.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ order
    def outcome(self, block: Block) -> Outcome:
        """The block's outcome, running it (and every earlier block not yet run) first."""
        for each in self.doc.runnable:
            if each not in self.outcomes:
                self.outcomes[each] = self._run(each)
                if self.outcomes[each].status == "failed" and self.first_failure is None:
                    self.first_failure = each
            if each == block:
                break
        return self.outcomes[block]

    def _run(self, block: Block) -> Outcome:
        if block.error:
            return Outcome("failed", f"{block.key}: {block.error}")
        if block.directive and block.directive.kind == "skip":
            return Outcome("skipped", f"{block.key}: {block.directive.reason}")
        earlier = self.first_failure
        if earlier is not None and not self.keep_going:
            return Outcome("failed", f"earlier block L{earlier.line} failed: "
                                     f"{self.outcomes[earlier].summary}")
        if block.directive and block.directive.kind == "background":
            outcome = self._start_background(block)
        elif block.kind == "python":
            outcome = self._run_python(block)
        else:
            outcome = self._run_shell(block)
        if outcome.status == "failed":
            outcome = Outcome("failed", outcome.message + self._background_tails())
            if earlier is not None:
                outcome = Outcome("failed", f"{outcome.message}\n(ran after earlier block "
                                            f"L{earlier.line} failed: DOCS_TEST_KEEP_GOING)")
        return outcome

    # ------------------------------------------------------------------ python
    def _run_python(self, block: Block) -> Outcome:
        try:
            kernel = self._kernel or self._start_kernel()
        except Exception as exc:  # the kernel is the harness's, but a reader would see this too
            return Outcome("failed", f"{block.key}: the kernel did not start: {exc!r}")
        reply, outputs, errors = kernel.run(block.code, self.timeout)
        if reply is None:
            return Outcome("failed", f"{block.key}: {outputs[-1] if outputs else 'no reply'}")
        # An error shown but not raised (a cell magic running its body with run_cell) fails
        # the block too: the reader sees a traceback.
        error = reply if reply["status"] != "ok" else (errors[0] if errors else None)
        if error is not None:
            traceback = [_ANSI.sub("", line) for line in error.get("traceback", [])]
            text = "\n".join(traceback).strip()
            last = (text.splitlines()[-1] if text
                    else f"{error.get('ename')}: {error.get('evalue')}")
            line = _statement_line(text, block)
            shown = "" if reply["status"] != "ok" else " (shown, though the cell did not raise)"
            return Outcome("failed", f"{block.key}: {last}{shown}"
                                     + (f" (statement at L{line})" if line else "")
                                     + (f"\n{text}" if text else ""))
        for text in outputs:
            raw = _RAW_REPR.search(text)
            if raw:
                return Outcome("failed", f"{block.key}: the output shows a default object "
                                         f"repr {raw.group(0)}, which tells a reader nothing")
        return Outcome("passed")

    def _start_kernel(self) -> _Kernel:
        self._kernel = _Kernel(self.project, self.env, self.logs / "kernel.log")
        return self._kernel

    # ------------------------------------------------------------------ shell
    def _run_shell(self, block: Block) -> Outcome:
        script, origin = shell_script(block)
        log = self.logs / f"L{block.line}.log"
        with open(log, "w+b") as out:
            proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", _ERR_TRAP + script],
                                    cwd=self.project, env=self.env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                rc = proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                return Outcome("failed", f"{block.key}: still running after {self.timeout:.0f} s "
                                         "(a command that runs until stopped belongs in its own "
                                         "block marked <!-- docs-test: background -->)")
            out.seek(0)
            text = out.read().decode(errors="replace")
        if rc == 0:
            return Outcome("passed")
        return Outcome("failed", _shell_failure(block, script, origin, rc, text))

    def _start_background(self, block: Block) -> Outcome:
        script, origin = shell_script(block)
        ports = [int(p) for p in _PORT.findall(script)]
        for port in ports:
            if _listening(port):
                return Outcome("failed", f"{block.key}: port {port} is already in use on this "
                                         "machine, so this block cannot be tested here")
        log = self.logs / f"L{block.line}.background.log"
        out = open(log, "w+b")
        proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", _ERR_TRAP + script],
                                cwd=self.project, env=self.env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        self._background.append((block, proc, log))
        deadline = time.monotonic() + (LISTEN_TIMEOUT if ports else SETTLE_SECONDS)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                text = log.read_text(errors="replace")
                return Outcome("failed", f"{block.key} (background): exited {proc.returncode} "
                                         "before it was up\n"
                               + _shell_failure(block, script, origin, proc.returncode, text))
            if ports and all(_listening(p) for p in ports):
                return Outcome("passed")
            time.sleep(0.2)
        if ports:
            return Outcome("failed", f"{block.key} (background): not listening on port(s) "
                                     f"{ports} after {LISTEN_TIMEOUT:.0f} s\n"
                                     + _tail(log.read_text(errors="replace")))
        return Outcome("passed")

    def _background_tails(self) -> str:
        """The last lines each background process wrote: why a request to it failed."""
        parts = []
        for block, _, log in self._background:
            tail = _tail(log.read_text(errors="replace"), 5)
            if tail:
                parts.append(f"\n--- background L{block.line}, last lines ---\n{tail}")
        return "".join(parts)

    # ------------------------------------------------------------------ end
    def close(self) -> None:
        """Stop the kernel and the background processes, then anything else still running in
        the project folder (a detached process a block started, such as an alert's pipeline)."""
        if self._kernel is not None:
            self._kernel.shutdown()
            self._kernel = None
        for _, proc, _ in self._background:
            _kill_group(proc)
        self._background.clear()
        _stop_processes_in(self.project)


class _Kernel:
    """An IPython kernel of the venv's ``python3`` kernelspec, working in the project folder."""

    def __init__(self, cwd: Path, env: dict[str, str], log: Path):
        from jupyter_client import KernelManager

        self._log = open(log, "wb")
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(cwd), env=env, stdout=self._log, stderr=self._log)
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=60)
        except RuntimeError:
            self.shutdown()
            raise

    def run(self, code: str, timeout: float) -> tuple[dict | None, list[str], list[dict]]:
        """Execute ``code``; return the execute reply's content (None if there was none), the
        texts a reader would see (stdout and the plain-text form of results and displays) and
        the error outputs shown. Without a reply, the last text says why (timeout, dead
        kernel)."""
        msg_id = self.kc.execute(code, allow_stdin=False, stop_on_error=True)
        texts: list[str] = []
        errors: list[dict] = []
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                self.km.interrupt_kernel()
                self._drain(msg_id, 10)
                return None, texts + [f"still running after {timeout:.0f} s (interrupted)"], errors
            try:
                msg = self.kc.get_iopub_msg(timeout=1)
            except Empty:
                if not self.km.is_alive():
                    return None, texts + ["the kernel died (its log: kernel.log in the test's "
                                          "temp folder)"], errors
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content.get("name") == "stdout":
                texts.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                texts.append(content.get("data", {}).get("text/plain", ""))
            elif kind == "error":
                errors.append(content)
            elif kind == "status" and content["execution_state"] == "idle":
                break
        while True:
            try:
                reply = self.kc.get_shell_msg(timeout=30)
            except Empty:
                return None, texts + ["no execute reply from the kernel"], errors
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply["content"], texts, errors

    def _drain(self, msg_id: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                msg = self.kc.get_iopub_msg(timeout=1)
            except Empty:
                continue
            if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                    and msg["content"]["execution_state"] == "idle"):
                return

    def shutdown(self) -> None:
        try:
            self.kc.stop_channels()
            self.km.shutdown_kernel(now=False)
        finally:
            self._log.close()


# ---------------------------------------------------------------------------- helpers
def _statement_line(traceback: str, block: Block) -> int | None:
    """The document line of the block's deepest frame in an IPython traceback.

    The block's own frames are the first "Cell In[N]" frames (a cell magic may run the body
    as a cell of its own, with another N, whose line 1 is the line after the ``%%`` line);
    frames of earlier cells cannot occur in it.
    """
    frames = re.findall(r"Cell In\[(\d+)\], line (\d+)", traceback)
    if not frames:
        return None
    first = frames[0][0]
    body = 1 if block.code.startswith("%%") else 0
    return block.line + body + int([ln for n, ln in frames if n == first][-1]) - 1


def _shell_failure(block: Block, script: str, origin: list[int], rc: int, text: str) -> str:
    where, command = block.key, ""
    marks = [m for m in re.finditer(rf"^{re.escape(_ERR_MARK)} (\d+) (\d+)$", text, re.M)]
    output = re.sub(rf"^{re.escape(_ERR_MARK)} .*\n?", "", text, flags=re.M)
    if marks:
        lines = script.splitlines()
        index = int(marks[-1].group(1)) - 2        # the trap is line 1 of what bash ran
        if 0 <= index < len(lines):
            # bash reports a continued command at its last line; show it from its first
            while index > 0 and lines[index - 1].rstrip().endswith("\\"):
                index -= 1
            where = f"{block.doc}:L{origin[index]}"
            command = f" `{lines[index].strip()}`"
    last = _tail(output, 1)
    return (f"{where}:{command} exited {rc}" + (f": {last}" if last else "")
            + (f"\n--- output ---\n{_tail(output, 15)}" if output.strip() else ""))


def _tail(text: str, n: int = 15) -> str:
    return "\n".join([line for line in text.splitlines() if line.strip()][-n:])


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process group this harness started (start_new_session), then SIGKILL."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _stop_processes_in(folder: Path) -> None:
    """Stop, by pid, the processes whose working folder is inside ``folder``: only this run's
    blocks start processes there (the folder is a fresh temp folder)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = _processes_in(folder.resolve())
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while pids and time.monotonic() < deadline and _processes_in(folder.resolve()):
            time.sleep(0.2)


def _processes_in(folder: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if int(entry.name) != os.getpid() and (cwd == folder or folder in cwd.parents):
            pids.append(int(entry.name))
    return pids
