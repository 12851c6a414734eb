"""How the suite is spread over xdist workers: whole files, longest first.

``--dist loadfile`` keeps each file on one worker (its module fixtures — a JupyterLab server,
a run of the tutorials — are built once), but xdist hands files out by *number of tests*,
most first. A file of two tests that takes four minutes (the tutorials) then starts last and
runs alone while the other workers idle: that tail was minutes of the CI budget.

Here the collection is reordered so that the files known to be longest come first (longest
processing time first, the classic greedy schedule), and ``scripts/run-tests`` passes
``--no-loadscope-reorder`` so xdist keeps that order. The blocks of each *document* in
``tests/docs/test_doc_blocks.py`` form a scope of their own: a document's blocks share one
kernel and must run in order on one worker, but documents are independent, and together they
were the longest "file" of the suite.

The weights (seconds per scope) live in ``tests/durations.json``, written from a JUnit report
of a whole run::

    .venv/bin/python -m pytest -n 3 --junitxml=/tmp/junit.xml ...
    .venv/bin/python tests/scheduling.py /tmp/junit.xml

A stale table only costs speed: a scope it does not know is weighted by its number of tests.
Nothing about what runs, or how, depends on it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

WEIGHTS = Path(__file__).with_name("durations.json")
_ROOT = Path(__file__).resolve().parents[1]
#: A scope missing from the table (a new file): roughly what an average test takes.
SECONDS_PER_UNKNOWN_TEST = 0.5
_DOC_BLOCK = re.compile(r"test_block_runs\[(?P<doc>[^\]]+?):L\d+-\w+\]$")


def scope_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its file, or its document for a docs block."""
    path, _, rest = nodeid.partition("::")
    match = _DOC_BLOCK.match(rest)
    return f"{path}::{match['doc']}" if match else path


def load_weights(path: Path = WEIGHTS) -> dict[str, float]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))}


def order_longest_first(items: list, weights: dict[str, float]) -> list:
    """``items`` grouped by scope, the heaviest scope first; the order inside a scope and
    between equally heavy scopes is kept (so module fixtures stay shared)."""
    groups: dict[str, list] = {}
    for item in items:
        groups.setdefault(scope_of(item.nodeid), []).append(item)

    def weight(scope: str) -> float:
        return weights.get(scope, SECONDS_PER_UNKNOWN_TEST * len(groups[scope]))

    ordered = sorted(groups, key=lambda scope: -weight(scope))  # sorted() is stable
    return [item for scope in ordered for item in groups[scope]]


class XdistScopes:
    """Plugin (registered only when xdist is loaded, whose hook this is): ``--dist loadfile``
    with :func:`scope_of` as its unit, so documents are spread like files."""

    def pytest_xdist_make_scheduler(self, config, log):
        if config.getoption("dist") != "loadfile":
            return None
        from xdist.scheduler import LoadScopeScheduling

        class FileOrDocumentScheduling(LoadScopeScheduling):
            def _split_scope(self, nodeid: str) -> str:
                return scope_of(nodeid)

        return FileOrDocumentScheduling(config, log)


def weights_from_junit(report: Path) -> dict[str, float]:
    """Seconds per scope (setup + call + teardown of its tests) from a pytest JUnit XML."""
    import xml.etree.ElementTree as ET

    totals: dict[str, float] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        parts = classname.split(".")
        # pytest writes "tests.pkg.test_mod" (+ ".Class"): the file is the longest prefix
        # that names one.
        path = next((f"{'/'.join(parts[:i])}.py" for i in range(len(parts), 0, -1)
                     if (_ROOT / f"{'/'.join(parts[:i])}.py").is_file()), classname)
        nodeid = f"{path}::{name}"
        totals[scope_of(nodeid)] = totals.get(scope_of(nodeid), 0.0) + float(
            case.get("time", 0) or 0)
    return {k: round(v, 1) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: tests/scheduling.py JUNIT_XML  (rewrites tests/durations.json)")
    WEIGHTS.write_text(json.dumps(weights_from_junit(Path(sys.argv[1])), indent=1) + "\n")
    print(f"wrote {WEIGHTS}")
