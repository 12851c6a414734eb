"""8 processes × 10,000 metrics plus artifacts into one store, on SQLite and PostgreSQL.

Every point and every blob must be there, each exactly once, and no process may see a lock
error ("database is locked", a deadlock, a serialization failure) — the store's job is to
wait for its turn, not to hand contention to the user.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.faults import record

HELPER = Path(__file__).resolve().parent / "helpers" / "writer.py"
WORKERS, POINTS, ARTIFACTS = 8, 10_000, 3


def run_writers(url: str, root: str, env: dict, tmp_path: Path, workers: int = WORKERS,
                points: int = POINTS, artifacts: int = ARTIFACTS) -> list[dict]:
    go = tmp_path / "go"
    procs = [subprocess.Popen(
        [sys.executable, str(HELPER), url, root, str(w), str(points), str(artifacts), str(go)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(workers)]
    deadline = time.monotonic() + 120
    while not all(Path(f"{go}.ready{w}").exists() for w in range(workers)):
        assert time.monotonic() < deadline, "writers never became ready"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.02)
    go.touch()  # everyone starts at once: maximum contention
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        lowered = err.lower()
        assert "locked" not in lowered and "deadlock" not in lowered, err
        assert "serializ" not in lowered, err
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


@pytest.mark.slow  # eight writer processes, 39.7 s measured (load 10)
def test_eight_writers_lose_nothing(client, subprocess_env, store_url, artifact_root, tmp_path):
    results = run_writers(store_url, artifact_root, subprocess_env, tmp_path)
    found = sum(len(client.metric_history(res["run"], "m")) for res in results)
    names = sum(len(client.list_artifacts(res["run"])) for res in results)
    expected_names = len(results) * (ARTIFACTS + 1)
    record("concurrent-writers", inputs=len(results), checked=found + names,
           lost=max(0, WORKERS * POINTS - found) + max(0, expected_names - names),
           backend=store_url.split(":", 1)[0])
    runs = client.search_runs(experiment="reliability", max_results=100)
    assert len(runs) == WORKERS and {r.status for r in runs} == {"FINISHED"}
    for worker, res in enumerate(results):
        hist = client.metric_history(res["run"], "m")
        assert [p.step for p in hist] == list(range(POINTS))  # every point, once, in order
        assert [p.value for p in hist] == [worker * 1_000_000 + s for s in range(POINTS)]
        names = {a.name for a in client.list_artifacts(res["run"])}
        assert names == {f"a{i}.bin" for i in range(ARTIFACTS)} | {"shared.bin"}
        for a in client.list_artifacts(res["run"]):
            assert client.read_artifact(res["run"], a.name)[1]  # present and hash-verified
    all_digests = {d for res in results for d in res["digests"]}
    assert len(all_digests) == WORKERS * ARTIFACTS + 1  # the shared blob stored once
    assert set(client.store.blobs.iter_digests()) == all_digests
    report = client.gc(dry_run=True).blobs
    assert report.corrupt == () and report.deleted == () and report.temp_removed == ()
