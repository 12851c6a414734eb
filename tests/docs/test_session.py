"""The harness itself: a document of known good and bad blocks gets exactly the expected verdicts.

Without this, a harness that passed everything (or failed everything for its own reasons) would
look the same as docs that work.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from .blocks import read_document
from .conftest import REPO
from .session import DocSession, _listening, make_project, reader_env

pytestmark = [pytest.mark.kernel, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _running(pid: int) -> bool:
    """Alive and not a zombie (a killed orphan stays one until PID 1 reaps it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _session(tmp_path: Path, text: str, **kw) -> DocSession:
    (tmp_path / "docs").mkdir()
    path = tmp_path / "docs" / "guide.md"
    path.write_text(text)
    doc = read_document(path, tmp_path)
    project = make_project(REPO, tmp_path / "project")
    return DocSession(doc, project, reader_env(tmp_path / "home"), tmp_path / "logs", **kw)


def _verdicts(session: DocSession) -> dict[int, tuple[str, str]]:
    return {b.line: (session.outcome(b).status, session.outcome(b).message)
            for b in session.doc.runnable}


def test_blocks_share_a_kernel_a_folder_and_a_background_server(tmp_path):
    port = _free_port()
    server = ("python -c 'import sys, http.server as h; h.HTTPServer((\"127.0.0.1\", "
              "int(sys.argv[2])), h.SimpleHTTPRequestHandler).serve_forever()'")
    session = _session(tmp_path, f"""\
```python
import os
x = 41
assert os.environ.get("MLOPS_TRACKING_URI") is None and os.path.isdir(".mlops")
assert os.path.isfile("examples/pipeline/pipeline.yaml")
```

```python
print(x + 1)
```

<!-- docs-test: skip: shows a call that needs a GPU -->
```python
import a_module_that_does_not_exist
```

<!-- docs-test: background -->
```bash
{server} --port {port}
```

```bash
test "$(command -v python)" = "$VIRTUAL_ENV/bin/python"
curl -sf http://127.0.0.1:{port}/ > /dev/null
nohup setsid sleep 600 > /dev/null 2>&1 &
echo $! > detached.pid
```
""")
    try:
        verdicts = _verdicts(session)
        assert verdicts == {2: ("passed", ""), 9: ("passed", ""),
                            14: ("skipped", "docs/guide.md:L14: shows a call that needs a GPU"),
                            19: ("passed", ""), 23: ("passed", "")}
        assert _listening(port)
        detached = int((session.project / "detached.pid").read_text())
        assert _running(detached)
    finally:
        session.close()
    assert not _listening(port), "the background server outlived its document"
    assert not _running(detached), "a process the document left was not stopped"


def test_a_failure_names_its_line_and_fails_the_blocks_after_it(tmp_path):
    session = _session(tmp_path, """\
```python
def f():
    raise ValueError("boom")
f()
```

```python
print("never run")
```

```bash
echo fine
false | cat
```
""")
    try:
        verdicts = _verdicts(session)
    finally:
        session.close()
    status, message = verdicts[2]
    assert status == "failed"
    assert message.startswith("docs/guide.md:L2: ValueError: boom (statement at L3)")
    assert verdicts[8] == ("failed", "earlier block L2 failed: " + message.splitlines()[0])
    assert verdicts[12][0] == "failed" and verdicts[12][1].startswith("earlier block L2 failed")


# Only the sleeping block gets a short timeout: a busy machine must not turn the others into
# timeouts.
@pytest.mark.parametrize("code, timeout, expected", [
    ("%%capture\nundefined_name", 300, "NameError: name 'undefined_name' is not defined "
                                       "(shown, though the cell did not raise) (statement at L3)"),
    ("%load_ext jupyter_mlops\n%mlops nosuchcommand", 300, "UsageError"),
    ("print(object())", 300, "the output shows a default object repr <object object at 0x"),
    ("import time\ntime.sleep(600)", 3, "still running after 3 s (interrupted)"),
])
def test_python_failures(tmp_path, code, timeout, expected):
    session = _session(tmp_path, f"```python\n{code}\n```\n", timeout=timeout)
    try:
        (block,) = session.doc.runnable
        outcome = session.outcome(block)
    finally:
        session.close()
    assert outcome.status == "failed" and expected in outcome.message, outcome.message


def test_shell_failures_keep_going_and_background_that_dies(tmp_path):
    session = _session(tmp_path, """\
```bash
echo fine
false | cat
echo never
```

```sh
cat \\
  no-such-file
```

<!-- docs-test: background -->
```bash
exit 3
```

```bash
sleep 600
```
""", keep_going=True, timeout=10)
    try:
        verdicts = _verdicts(session)
    finally:
        session.close()
    assert verdicts[2][1].startswith("docs/guide.md:L3: `false | cat` exited 1"), verdicts[2]
    assert verdicts[8][1].startswith(
        "docs/guide.md:L8: `cat \\` exited 1: cat: no-such-file: No such file or directory")
    assert "(ran after earlier block L2 failed" in verdicts[8][1]
    assert verdicts[14][1].startswith("docs/guide.md:L14 (background): exited 3 before it was up")
    assert verdicts[18][1].startswith("docs/guide.md:L18: still running after 10 s")
    assert "docs-test: background" in verdicts[18][1]
    assert all(status == "failed" for status, _ in verdicts.values())
    assert os.listdir(session.project / ".mlops") == []   # nothing here touched the store
