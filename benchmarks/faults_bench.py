"""Fault injection and hostile input: faults injected, inputs tried, items lost (must be 0).

    .venv/bin/python benchmarks/faults_bench.py [--quick] [--no-postgres] [--log PATH]

Not a timing: it runs the hardening tests (issue 7) with ``MLOPS_FAULT_LOG`` set, so each of
them appends what it did as JSON lines (``tests/reliability/faults.py``), and sums the lines:

* faults injected — SIGKILL of a writer mid-artifact and mid-burst, of ``migrate`` in each
  phase (SQLite and PostgreSQL targets), of a pipeline step's kernel and of the pipeline
  runner; ENOSPC in blob writes and fsync; a full SQLite database; a corrupt source blob;
* inputs tried — fuzzed ``%mlops`` lines (parser and store), SQL-injection payloads and
  fuzzed sort keys, XSS payloads rendered, refused model-server requests (no/wrong token,
  cross-site, form bodies, DNS rebinding), concurrent writer processes;
* lost — what a test measured missing or corrupt afterwards (flushed metric points, rows,
  blobs, artifacts), summed; and ``checked``, how many such items were verified.

Tests: ``tests/reliability`` (crash, full disk, migrate kill, pipeline kill, concurrency),
``tests/security``, ``tests/serving/test_auth.py`` and issue 12's (``ISSUE_12``); ``--quick`` leaves out the kernel and
concurrency tests and the PostgreSQL cases. PostgreSQL: ``MLOPS_TEST_DB_URL`` if set, else
``scripts/pg-test-server`` is started (and stopped afterwards only if this script started
it). Prints one JSON object on its last line, with ``rows`` for ``benchmarks/run.py``; a
failed test or any loss makes those rows ``met: false`` (the script itself still exits 0
once it has a report, so the table shows the failure).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

#: Issue 12's hardening tests (after the issue 7 ones): validation at the call, dead letter,
#: exit flush, run liveness, foreign migrate sources, root confinement, archive limits,
#: hostile REST/serving bodies, monitoring input, notebook failure status, papermill parity.
ISSUE_12 = ["tests/reliability/test_validation.py", "tests/reliability/test_dead_letter.py",
            "tests/reliability/test_exit_flush.py", "tests/reliability/test_parse_int.py",
            "tests/reliability/test_one_validation_layer.py",
            "tests/reliability/test_launcher_exit_codes.py",
            "tests/reliability/test_db_current.py",
            "tests/reliability/test_run_liveness.py", "tests/reliability/test_migrate_foreign.py",
            "tests/server/test_hostile_bodies.py", "tests/serving/test_hostile_requests.py",
            "tests/monitoring/test_monitor_validation.py",
            "tests/notebook/test_failure_status.py", "tests/parity",
            "tests/reliability/test_kernel_front_door_property.py"]
FULL = ["tests/reliability/test_crash.py", "tests/reliability/test_full_disk.py",
        "tests/reliability/test_migrate_kill.py", "tests/reliability/test_pipeline_kill.py",
        "tests/reliability/test_concurrency.py", "tests/security",
        "tests/serving/test_auth.py", *ISSUE_12]
QUICK = ["tests/reliability/test_crash.py", "tests/reliability/test_full_disk.py",
         "tests/reliability/test_migrate_kill.py", "tests/security/test_sql_injection.py",
         "tests/security/test_html_escaping.py", "tests/serving/test_auth.py"]

#: Kinds of log line (see the tests' record() calls) and how the report groups them.
FAULTS = {
    "sigkill-writer": "SIGKILL of a writer (mid-artifact, mid-burst)",
    "sigkill-migrate": "SIGKILL of jupyter mlops migrate (rows, blobs, verify, random)",
    "sigkill-kernel": "SIGKILL of a pipeline step's kernel",
    "sigkill-runner": "SIGKILL of the pipeline runner",
    "enospc": "ENOSPC in artifact write / fsync",
    "sqlite-full": "database full during metric writes",
    "corrupt-source-blob": "corrupt source blob during migrate",
    "dead-letter": "rows the store refuses at write time (set aside, replayed)",
    "outage-requeue": "store outage during a flush (rows kept queued)",
    "exit-flush-locked": "exit with SQLite's write lock held elsewhere",
    "monitor-exit-flush": "monitor rows buffered at interpreter exit",
    "sigterm-after-poison": "SIGTERM after poisoned requests",
    "attached-writer-exit": "an attached writer process exiting",
    "sigkill-run-owner": "SIGKILL of a run's owner process",
    "missing-blob": "referenced blob deleted",
    "symlink-escape": "symlinks leading outside the artifact root / download folder",
    "notebook-failure": "notebooks failing each way papermill knows",
}
INPUTS = {
    "fuzz-magic-parser": "fuzzed %mlops lines (parser)",
    "fuzz-magic-store": "fuzzed %mlops lines (real store)",
    "fuzz-magic-kernel": "random good and hostile %mlops lines in a real kernel",
    "hostile-magic-value": "hostile %mlops values (NUL, NaN, SQL, HTML)",
    "sql-injection": "SQL-injection payloads and fuzzed sort keys",
    "xss-payload": "XSS payloads rendered",
    "refused-request": "refused model-server requests (token, cross-site, form, rebinding)",
    "refused-input": "refused migrate targets",
    "concurrent-writers": "concurrent writer processes",
    "hostile-value-at-call": "hostile values at the Python API (int64, NaN time, surrogates)",
    "fuzz-client-calls": "random good and hostile Client calls",
    "magic-metric-validation": "%mlops metric values checked by the validation layer",
    "parse-int": "Unicode-digit and huge integers at the int-parsing front doors",
    "parse-int-cli": "Unicode-digit and huge integers at the CLI",
    "launcher-exit-code": "launcher errors mapped by the error table",
    "hostile-rest-body": "hostile REST bodies (depth, size, surrogates, int64)",
    "hostile-rest-body-fuzz": "fuzzed REST bodies",
    "hostile-serving-request": "hostile model-server requests",
    "refused-feedback": "refused /feedback bodies",
    "hostile-monitor-id": "hostile monitoring row ids",
    "foreign-migrate-source": "foreign / random migrate sources (left untouched)",
    "db-current-foreign": "foreign files given to db current (left untouched)",
    "path-escape-download": "artifact names escaping the download folder",
    "hostile-model-file": "random and damaged model files",
    "zip-bomb": "zip bombs (register, load, inspect)",
    "papermill-parity": "papermill's own test notebooks (papermill, hooks, pipeline)",
}


def _postgres():
    sys.path.insert(0, str(HERE))
    from concurrency_bench import (
        Postgres,  # MLOPS_TEST_DB_URL or scripts/pg-test-server
    )

    return Postgres()


def run_tests(paths: list[str], log: Path, pg_url: str | None, quick: bool,
              junit: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
    env.update(MLOPS_FAULT_LOG=str(log), PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    if pg_url:
        env["MLOPS_TEST_DB_URL"] = pg_url
    marks = ["not browser"]
    if quick or not pg_url:
        marks.append("not postgres")
    if quick:
        marks.append("not kernel")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m",
           " and ".join(marks), f"--junitxml={junit}", *paths]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=3000, check=False)
    seconds = time.perf_counter() - t0
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    try:
        root = ET.parse(junit).getroot()
        for suite in ([root] if root.tag == "testsuite" else root.iter("testsuite")):
            for key in counts:
                counts[key] += int(suite.get(key, 0))
    except (OSError, ET.ParseError):
        counts["errors"] += 1
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - \
        counts["skipped"]
    tail = (proc.stdout.strip().splitlines() or [""])[-1]
    if proc.returncode not in (0, 1):
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n", file=sys.stderr)
    return {**counts, "returncode": proc.returncode, "seconds": round(seconds, 1),
            "summary": tail, "command": " ".join(cmd[1:])}


def summarise(log: Path) -> dict:
    kinds: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    lost_in: list[str] = []
    if log.exists():
        for line in log.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            k = kinds[rec.get("kind", "?")]
            k["records"] += 1
            for field in ("faults", "inputs", "lost", "checked"):
                k[field] += int(rec.get(field) or 0)
            if rec.get("lost"):
                lost_in.append(f"{rec.get('test')}: lost {rec['lost']}")
    totals = collections.Counter()
    for k in kinds.values():
        totals.update(k)
    return {"kinds": {name: dict(c) for name, c in sorted(kinds.items())},
            "totals": dict(totals), "lost_in": lost_in}


def rows(summary: dict, tests: dict) -> list[dict]:
    kinds, ok = summary["kinds"], tests["failures"] == 0 and tests["errors"] == 0
    out = []

    def row(group: dict, what: str, field: str, unit: str) -> None:
        present = {k: kinds[k] for k in group if k in kinds}
        n = sum(c.get(field, 0) for c in present.values())
        lost = sum(c.get("lost", 0) for c in present.values())
        checked = sum(c.get("checked", 0) for c in present.values())
        detail = "; ".join(f"{kinds[k].get(field, 0):,} {group[k]}" for k in present)
        out.append({"bench": "faults", "what": what,
                    "ours": f"{n:,} {unit}, {checked:,} items verified after, lost {lost}"
                            + (f" ({detail})" if detail else ""),
                    "anchor": "–", "ratio": "–", "target": "lost 0, every test passes",
                    "met": bool(ok and lost == 0 and n > 0)})

    row(FAULTS, "faults injected (SIGKILL, ENOSPC, full DB, locks, refusals, symlinks)",
        "faults", "faults")
    row(INPUTS, "hostile / random inputs tried", "inputs", "inputs")
    out.append({"bench": "faults", "what": "hardening tests (pytest)",
                "ours": f"{tests['passed']} passed, {tests['failures']} failed, "
                        f"{tests['errors']} errors, {tests['skipped']} skipped in "
                        f"{tests['seconds']} s",
                "anchor": "–", "ratio": "–", "target": "all pass", "met": ok})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="no kernel, concurrency or PostgreSQL tests")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--log", help="keep the JSON-lines fault log here")
    args = parser.parse_args(argv)
    result: dict = {"bench": "faults", "quick": args.quick,
                    "load_1min_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="mlops-faults-") as tmp:
        log = Path(args.log) if args.log else Path(tmp) / "faults.jsonl"
        if log.exists():
            log.unlink()
        use_pg = not (args.quick or args.no_postgres)
        with (_postgres() if use_pg else contextlib.nullcontext()) as pg:
            pg_url = pg.url if pg is not None else None
            result["postgres"] = bool(pg_url)
            tests = run_tests(QUICK if args.quick else FULL, log, pg_url, args.quick,
                              Path(tmp) / "junit.xml")
        summary = summarise(log)
    result["pytest"] = tests
    result.update(summary)
    result["rows"] = rows(summary, tests)
    totals = summary["totals"]
    print(f"faults injected {totals.get('faults', 0):,}, inputs tried "
          f"{totals.get('inputs', 0):,}, items verified {totals.get('checked', 0):,}, "
          f"lost {totals.get('lost', 0)}; pytest: {tests['summary']}", file=sys.stderr)
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
