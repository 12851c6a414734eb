"""SQL injection through REST query strings and path segments: a 4xx or inert data, never 500.

Every payload is sent URL-encoded exactly as a browser or ``curl`` would; each answer must be
200 (the payload treated as a literal value), 400 (refused with our JSON error) or 404, and
afterwards the store's tables and runs are exactly what they were.
"""

from __future__ import annotations

import json
from urllib.parse import quote

API = "mlops/api/v1"
PAYLOADS = [
    "' OR '1'='1", "1; DROP TABLE runs; --", "name; DROP TABLE runs", "\" OR \"\"=\"",
    "metrics.acc DESC; DELETE FROM runs", "(SELECT name FROM experiments)",
    "x' UNION SELECT * FROM runs --", "%", "_", "*/ SELECT 1 /*", "\\'; --", "%27%20OR%201=1",
    "name = '' OR 1=1 --", "metrics.acc > 0 OR (SELECT 1)", "CASE WHEN 1=1 THEN name END",
]


def _state(store) -> tuple:
    from sqlalchemy import inspect

    from jupyter_mlops.client import Client
    from jupyter_mlops.store.engine import read_connection

    client = Client(store.tracking_uri, store.artifact_root)
    with read_connection(store.tracking_uri) as conn:
        tables = sorted(inspect(conn).get_table_names())
    return tables, sorted((r.id, r.name, r.status) for r in client.search_runs(max_results=500))


def _paths(q: str, run: str) -> list[str]:
    return [f"runs?filter={q}", f"runs?order_by={q}", f"runs?experiment={q}",
            f"runs?order_by=name&order_by={q}", f"runs?limit={q}", f"runs?offset={q}",
            f"runs/{q}", f"runs/{run}/metrics/{q}", f"runs/{run}/artifacts/{q}",
            f"lineage?node={q}", f"lineage?node=run:{q}", f"models/{q}"]


async def test_query_string_payloads_are_refused_or_inert(raw_fetch, mlops_store):
    before = _state(mlops_store)  # one server for every payload: keeps the suite fast
    run = mlops_store.alpha[0]
    for payload in PAYLOADS:
        for path in _paths(quote(payload, safe=""), run):
            status, _headers, body = await raw_fetch(f"{API}/{path}")
            assert status in (200, 400, 404), (path, status, body[:300])
            if status != 200:
                error = json.loads(body)["error"]
                assert error["message"] and error["type"] != "InternalError", (path, error)
            elif path.startswith("runs?experiment"):
                assert json.loads(body)["runs"] == []  # a literal name: no such experiment
    assert _state(mlops_store) == before
