"""The panel's side of issue 6: REST pages and the Runs tab over a big store, in a real JupyterLab.

    .venv/bin/python benchmarks/panel_bench.py [--quick] [--keep-log]

Prints one JSON object (last stdout line) with the medians, their spread, correctness checks and
``rows`` for ``benchmarks/run.py``.

Method. In a scratch folder under ``benchmarks/.work/``: 100,000 runs seeded in bulk with
:func:`ours_bench.seed_runs` (5 params, 2 metrics, 1 tag each, experiment ``bench``), then one
run (experiment ``series``) with a 1,000,000-point ``loss`` series written through
``client.store.runs.log_batch`` in 50,000-point batches (the writer thread's batch size).
JupyterLab (this venv's, ``python -m jupyterlab``) serves that store on a free 127.0.0.1 port
with a random token and the ``jupyter_mlops.server`` extension, set up like ``tests/ui``.

- **/runs** — ``GET /mlops/api/v1/runs?limit=50`` (the panel's first page: search + total
  count), one new connection per request (urllib), ``Authorization: token``; after 2 warm-up
  requests, median of 20. Same with ``filter=metrics.acc > 0.9`` (~20 % of runs match; the
  total has to count them all).
- **metric series** — ``GET /mlops/api/v1/runs/<id>/metrics/loss?max_points=2000`` over the
  1,000,000 points (M4 downsampling in the server); after 1 warm-up, median of 10.
- **Runs tab** — Debian's chromium driven by Playwright: load ``/lab?reset`` (panel closed),
  wait for the MLOps tab in the side bar, click it, wait for the first
  ``.jp-mlops-run-row`` to be visible. Timed from the click by Python (includes Playwright's
  round trips) and inside the page (``performance.now()`` at the tab's ``pointerdown`` to the
  first animation frame with a visible row). One unmeasured warm-up load (fills the browser
  cache, like a user's second visit), then 5 reloads, median. The panel sends its first
  ``/runs`` request while JupyterLab starts, before the tab is opened; the JSON records when
  (relative to the click, from the page's resource timing) and how long that request took.

No anchor: MLflow's server/UI is out of scope for this issue; the rows compare ours with the
targets. ``--quick``: 10,000 runs, 100,000 points, 2 repeats (checks the harness).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from _common import run_values
from ours_bench import seed_runs

from tests import lab_server

CHROMIUM = os.environ.get("MLOPS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PANEL = "#jupyter-mlops-panel"
ROWS = f"{PANEL} .jp-mlops-run-row"
TAB = '.jp-SideBar [data-id="jupyter-mlops-panel"]'
API = "/mlops/api/v1"
FILTER = "metrics.acc > 0.9"
PAGE = 50
MAX_POINTS = 2000
BATCH = 50_000

# In the page: the time of the pointerdown on the MLOps tab, and of the first animation frame
# after it in which a run row has a non-empty box (i.e. is painted).
_WATCH_JS = """([tabSel, rowSel]) => {
  window.__mlopsBench = {down: null, rows: null};
  const onDown = (event) => {
    if (!(event.target instanceof Element) || !event.target.closest(tabSel)) return;
    document.removeEventListener('pointerdown', onDown, true);
    const b = window.__mlopsBench;
    b.down = performance.now();
    const poll = (now) => {
      const row = document.querySelector(rowSel);
      if (row) {
        const r = row.getBoundingClientRect();
        if (r.width > 0 && r.height > 0) {
          b.rows = performance.now();
          // When the panel's /runs request ran, relative to the click (ms): before it
          // (negative) means the page was fetched while the panel was still closed.
          b.fetches = performance.getEntriesByType('resource')
            .filter((e) => e.name.includes('/mlops/api/v1/runs'))
            .map((e) => [e.startTime - b.down, e.responseEnd - b.down]);
          return;
        }
      }
      requestAnimationFrame(poll);
    };
    requestAnimationFrame(poll);
  };
  document.addEventListener('pointerdown', onDown, true);
}"""


def log(msg: str) -> None:
    print(f"[panel {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def summary(samples: list[float]) -> dict:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "n": len(samples), "samples": samples}


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


# ---------------------------------------------------------------------------- seeding


def seed(folder: Path, n_runs: int, n_points: int) -> dict:
    from jupyter_mlops.client import Client

    uri = f"sqlite:///{folder / 'mlops.db'}"
    root = str(folder / "artifacts")
    client = Client(uri, root)
    try:
        log(f"seeding {n_runs:,} runs")
        runs_s = seed_runs(client, n_runs, "bench")
        log(f"  {runs_s:.1f} s; logging {n_points:,} points into one run")
        t0 = time.perf_counter()
        run = client.create_run(experiment="series", name="million-points")
        base = time.time()
        for lo in range(0, n_points, BATCH):
            hi = min(lo + BATCH, n_points)
            client.store.runs.log_batch(run.id, metrics=[
                ("loss", 1.0 / (1 + 0.001 * i) + 0.01 * ((i * 7919) % 13), i, base + i * 1e-3)
                for i in range(lo, hi)])
        client.end_run(run.id)
        client.flush()
        series_s = time.perf_counter() - t0
        log(f"  {series_s:.1f} s")
    finally:
        client.writer.close()
    expected_filter = sum(run_values(i)[1]["acc"] > 0.9 for i in range(n_runs))
    return {"uri": uri, "root": root, "series_run": run.id, "seed_runs_s": runs_s,
            "seed_series_s": series_s, "expected_filter_total": expected_filter,
            "total_runs": n_runs + 1}


# ---------------------------------------------------------------------------- JupyterLab


def start_lab(folder: Path, store: dict) -> tuple[subprocess.Popen, str, str, Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
    env.update({"MLOPS_TRACKING_URI": store["uri"], "MLOPS_ARTIFACT_ROOT": store["root"],
                "MLOPS_HOME": str(folder)})
    proc, url, token, _root = lab_server.start_lab(folder, env)
    return proc, url, token, folder / "lab.log"



# ---------------------------------------------------------------------------- HTTP


def get(url: str, token: str) -> tuple[float, dict]:
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}",
                                               "Connection": "close"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as resp:
        body = resp.read()
    elapsed = time.perf_counter() - t0
    return elapsed, json.loads(body)


def timed_gets(url: str, token: str, repeats: int, warmup: int) -> tuple[dict, dict, int]:
    for _ in range(warmup):
        _, last = get(url, token)
    samples, size = [], 0
    for _ in range(repeats):
        s, last = get(url, token)
        samples.append(s)
    size = len(json.dumps(last))
    return summary(samples), last, size


# ---------------------------------------------------------------------------- browser


def browser_first_rows(url: str, token: str, repeats: int) -> dict:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        return {"skipped": f"{CHROMIUM} is missing"}
    lab_url = f"{url}/lab?reset&token={token}"
    wall, inpage, since_nav, fetches, api_calls, loads = [], [], [], [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            calls: list[str] = []
            page.on("request", lambda r: calls.append(r.url) if API in r.url else None)
            for i in range(repeats + 1):  # the first load warms the browser cache
                calls.clear()
                t_load = time.perf_counter()
                page.goto(lab_url)
                tab = page.locator(TAB)
                tab.wait_for(timeout=60_000)
                loaded = time.perf_counter() - t_load
                page.evaluate(_WATCH_JS, [TAB, ROWS])
                started = time.perf_counter()
                tab.click()
                page.locator(ROWS).first.wait_for(state="visible", timeout=60_000)
                took = time.perf_counter() - started
                page.wait_for_function("window.__mlopsBench.rows !== null", timeout=10_000)
                marks = page.evaluate("window.__mlopsBench")
                n_rows = page.locator(ROWS).count()
                if i == 0:
                    warm = {"wall_s": took, "in_page_s": (marks["rows"] - marks["down"]) / 1e3,
                            "lab_ready_s": loaded}
                    continue
                wall.append(took)
                inpage.append((marks["rows"] - marks["down"]) / 1e3)
                since_nav.append(marks["rows"] / 1e3)  # performance.now() starts at navigation
                fetches.append([[round(a), round(b)] for a, b in marks["fetches"]])
                loads.append(loaded)
                api_calls = [urllib.parse.unquote(c.split(url, 1)[-1]) for c in calls]
            total = page.locator(f"{PANEL} .jp-mlops-total").first.inner_text(timeout=5_000)
        finally:
            browser.close()
    return {"wall": summary(wall), "in_page": summary(inpage), "lab_ready": summary(loads),
            "navigation_to_rows": summary(since_nav),
            "runs_fetch_ms_relative_to_click": fetches,
            # Duration of the panel's own first /runs request, as the browser timed it.
            "panel_runs_fetch": summary([(f[0][1] - f[0][0]) / 1e3 for f in fetches if f]
                                        or [float("nan")]),
            "warm_up": warm, "rows_rendered": n_rows, "total_shown": total,
            "api_calls_of_last_load": api_calls}


# ---------------------------------------------------------------------------- main


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--keep-log", action="store_true", help="print lab.log's tail at the end")
    args = ap.parse_args()
    n_runs = 10_000 if args.quick else 100_000
    n_points = 100_000 if args.quick else 1_000_000
    rep_runs, rep_metric, rep_browser = (2, 2, 2) if args.quick else (20, 10, 5)

    WORK.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="panel-", dir=WORK))
    proc = None
    out: dict = {"quick": args.quick, "runs": n_runs, "points": n_points,
                 "load_avg_start": os.getloadavg()[0]}
    try:
        store = seed(folder, n_runs, n_points)
        out.update({k: store[k] for k in ("seed_runs_s", "seed_series_s",
                                          "expected_filter_total")})
        db = folder / "mlops.db"
        out["db_mib"] = round(db.stat().st_size / 2**20, 1)
        log("starting jupyter lab")
        t0 = time.perf_counter()
        proc, url, token, lab_log = start_lab(folder, store)
        out["lab_start_s"] = time.perf_counter() - t0
        api = f"{url}{API}"

        log(f"/runs?limit={PAGE} ×{rep_runs}")
        first, body, size = timed_gets(f"{api}/runs?limit={PAGE}", token, rep_runs, 2)
        out["runs_page"] = {**first, "bytes": size, "returned": len(body["runs"]),
                            "total": body["total"],
                            "correct": len(body["runs"]) == PAGE
                            and body["total"] == store["total_runs"]}
        q = urllib.parse.urlencode({"limit": PAGE, "filter": FILTER})
        filt, body, size = timed_gets(f"{api}/runs?{q}", token, rep_runs, 2)
        out["runs_page_filter"] = {
            **filt, "bytes": size, "returned": len(body["runs"]), "total": body["total"],
            "correct": len(body["runs"]) == PAGE
            and body["total"] == store["expected_filter_total"]
            and all(_acc(r) > 0.9 for r in body["runs"])}

        log(f"metric series ({n_points:,} points, max_points={MAX_POINTS}) ×{rep_metric}")
        murl = f"{api}/runs/{store['series_run']}/metrics/loss?max_points={MAX_POINTS}"
        series, body, size = timed_gets(murl, token, rep_metric, 1)
        pts = body["points"]
        out["metric"] = {**series, "bytes": size, "returned": len(pts),
                         "correct": 0 < len(pts) <= MAX_POINTS and pts[0][0] == 0
                         and pts[-1][0] == n_points - 1}

        log(f"browser: Runs tab first rows ×{rep_browser}")
        try:
            out["browser"] = browser_first_rows(url, token, rep_browser)
        except Exception as exc:  # noqa: BLE001 — report the REST figures even so
            out["browser"] = {"error": f"{type(exc).__name__}: {exc}"[:1000]}
        out["load_avg_end"] = os.getloadavg()[0]
        if args.keep_log:
            out["lab_log_tail"] = lab_log.read_text(errors="replace")[-2000:]
    finally:
        lab_server.stop_lab(proc)
        shutil.rmtree(folder, ignore_errors=True)
    out["rows"] = rows(out)
    return out


def _acc(run: dict) -> float:
    value = (run.get("metrics") or {}).get("acc", float("nan"))
    return value.get("value", float("nan")) if isinstance(value, dict) else value


def rows(out: dict) -> list[dict]:
    n, pts = f"{out['runs']:,}", f"{out['points']:,}"

    def row(what: str, s: float | None, target: str, limit: float) -> dict:
        return {"bench": "panel", "what": what, "ours": ms(s), "anchor": "–", "ratio": "–",
                "target": target, "met": None if s is None else s < limit}

    rp, rf, mt = out.get("runs_page"), out.get("runs_page_filter"), out.get("metric")
    br = out.get("browser") or {}
    result = [
        row(f"GET /runs?limit={PAGE}, {n} runs (page + total)", rp and rp["median"],
            "< 100 ms", 0.1),
        row(f"… with filter `{FILTER}`", rf and rf["median"], "< 100 ms", 0.1),
        row(f"GET metric, {pts} points → ≤ {MAX_POINTS:,} (M4)", mt and mt["median"],
            "< 200 ms", 0.2),
        row("Runs tab: click → first row visible (chromium, Python-timed)",
            br.get("wall", {}).get("median"), "< 1 s", 1.0),
        row("… same, timed in the page (pointerdown → first painted frame)",
            br.get("in_page", {}).get("median"), "< 1 s", 1.0),
    ]
    fetch = br.get("panel_runs_fetch", {}).get("median")
    if fetch is not None and not math.isnan(fetch):
        result.append({"bench": "panel", "what": "… the panel's own first `/runs` request "
                       "(sent before the click), as the browser timed it", "ours": ms(fetch),
                       "anchor": "–", "ratio": "–", "target": "(context)", "met": None})
    return result


if __name__ == "__main__":
    result = main()
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()
