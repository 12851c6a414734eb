"""Helpers shared by our benchmark script and the anchors' scripts.

Standard library only: the anchor scripts import this file from their own virtual environments
(MLflow's, DVC's), where ``jupyter_mlops`` and its dependencies are not installed.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time

#: The search every tool runs: one metric condition and one param condition.
#: Both tools' filter languages accept this exact string.
SEARCH_FILTER = "metrics.acc > 0.9 and params.model = 'svc'"
SEARCH_MAX_RESULTS = 100
MODELS = ("svc", "lr", "rf", "knn", "gb")
OPTIMIZERS = ("adam", "sgd")
TEAMS = ("vision", "nlp", "tabular")

#: A whole small run: 5 params and 5 metrics, the same names and values for every tool.
SMALL_PARAMS = {"model": "svc", "C": 1.0, "kernel": "rbf", "gamma": "scale", "seed": 42}
SMALL_METRICS = {"acc": 0.93, "f1": 0.91, "precision": 0.92, "recall": 0.9, "roc_auc": 0.97}


def run_values(i: int) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """Params, metrics and tags of seeded run ``i`` (deterministic, identical for every tool).

    5 params, 2 metrics (one point each), 1 tag. ``acc > 0.9`` holds for ~20 % of runs and
    ``model = 'svc'`` for ~20 %, so the search matches ~4 % of them.
    """
    rng = random.Random(i)
    params = {
        "model": MODELS[rng.randrange(len(MODELS))],
        "lr": repr(round(10 ** rng.uniform(-4, -1), 6)),
        "depth": str(rng.randint(1, 12)),
        "optimizer": OPTIMIZERS[rng.randrange(len(OPTIMIZERS))],
        "seed": str(i),
    }
    metrics = {"acc": round(rng.uniform(0.5, 1.0), 6), "loss": round(rng.uniform(0.0, 2.0), 6)}
    tags = {"team": TEAMS[rng.randrange(len(TEAMS))]}
    return params, metrics, tags


def expected_matches(n: int) -> int:
    """How many of runs ``0..n-1`` the search filter matches (to check each tool's answer)."""
    count = 0
    for i in range(n):
        params, metrics, _ = run_values(i)
        count += params["model"] == "svc" and metrics["acc"] > 0.9
    return count


def median(values: list[float]) -> float:
    return statistics.median(values)


def summary(samples: list[float], **extra) -> dict:
    """Median plus spread of a list of seconds, as the JSON the orchestrator reads."""
    out = {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "n": len(samples),
        "samples": samples,
    }
    out.update(extra)
    return out


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - t0, result


def emit(result: dict) -> None:
    """Print the result as the last line of stdout: the orchestrator parses only that line."""
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()


def parse_args(argv: list[str]) -> tuple[str, dict[str, str]]:
    """``script.py NAME key=value ...`` -> (NAME, {key: value})."""
    if not argv:
        raise SystemExit("usage: script.py BENCHMARK [key=value ...]")
    opts = {}
    for item in argv[1:]:
        key, _, value = item.partition("=")
        opts[key] = value
    return argv[0], opts
