"""Every REST route through a real jupyter_server with token authentication (jp_fetch)."""

from __future__ import annotations

import json

import pytest

API = "mlops/api/v1"


async def test_health_reports_store(api, mlops_store):
    status, body = await api("health")
    assert status == 200
    assert body["status"] == "ok"
    assert body["store"]["tracking_uri"] == mlops_store.tracking_uri


async def test_experiments_listed(api, mlops_store):
    status, body = await api("experiments")
    assert status == 200
    assert {e["name"] for e in body["experiments"]} >= {"alpha", "beta"}


async def test_runs_first_page_newest_first(api, mlops_store):
    status, body = await api("runs")
    assert status == 200
    assert body["total"] == 9
    assert body["limit"] == 50 and body["offset"] == 0
    starts = [r["start_time"] for r in body["runs"]]
    assert starts == sorted(starts, reverse=True)
    row = next(r for r in body["runs"] if r["id"] == mlops_store.alpha[2])
    assert row["name"] == "alpha-2"
    assert row["experiment"] == "alpha"
    assert row["status"] == "FINISHED"
    assert row["params"]["model"] == "lr"
    assert row["metrics"]["acc"] == pytest.approx(0.66)
    assert row["tags"] == {"idx": "2"}


async def test_runs_pagination_is_stable_and_complete(api, mlops_store):
    seen = []
    for offset in (0, 4, 8):
        status, body = await api("runs", params={"limit": 4, "offset": offset})
        assert status == 200
        assert body["total"] == 9 and body["limit"] == 4 and body["offset"] == offset
        seen += [r["id"] for r in body["runs"]]
    assert len(seen) == 9 == len(set(seen))
    status, body = await api("runs", params={"limit": 4, "offset": 100})
    assert status == 200 and body["runs"] == [] and body["total"] == 9


async def test_runs_filter_and_experiment(api, mlops_store):
    status, body = await api("runs", params={"filter": "metrics.acc > 0.8"})
    assert status == 200
    assert {r["name"] for r in body["runs"]} == {"alpha-4", "alpha-5"}
    assert body["total"] == 2

    status, body = await api("runs", params={"experiment": "beta"})
    assert {r["name"] for r in body["runs"]} == {"beta-artifacts", "long-series"}

    status, body = await api(
        "runs", params={"filter": "params.model = 'svc' and status = 'FINISHED'",
                        "experiment": "alpha"})
    assert {r["name"] for r in body["runs"]} == {"alpha-1", "alpha-3", "alpha-5"}


async def test_runs_order_by_repeatable_and_comma_list(api, raw_fetch, mlops_store):
    status, body = await api(
        "runs", params={"experiment": "alpha", "order_by": "metrics.acc DESC"})
    assert status == 200
    names = [r["name"] for r in body["runs"]]
    assert names[:6] == [f"alpha-{i}" for i in range(5, -1, -1)] and names[6] == "alpha-live"

    status, body = await api("runs", params={"experiment": "alpha",
                                             "order_by": "params.model ASC, name DESC"})
    assert [r["name"] for r in body["runs"]][:3] == ["alpha-4", "alpha-2", "alpha-0"]

    # Repeated query parameters: ?order_by=a&order_by=b
    status, _, raw = await raw_fetch(
        f"{API}/runs?order_by=params.model%20DESC&order_by=name%20ASC&experiment=alpha")
    assert status == 200
    assert [r["name"] for r in json.loads(raw)["runs"]][:3] == ["alpha-1", "alpha-3", "alpha-5"]


@pytest.mark.parametrize("params", [
    {"filter": "metrics.acc >"},
    {"filter": "nonsense ~~ 1"},
    {"order_by": "metrics.acc SIDEWAYS"},
])
async def test_bad_filter_is_400_with_message(api, mlops_store, params):
    status, body = await api("runs", params=params)
    assert status == 400
    assert body["error"]["type"] == "FilterSyntaxError"
    assert "position" in body["error"]["message"]


@pytest.mark.parametrize("params", [
    {"limit": "0"}, {"limit": "1001"}, {"limit": "ten"}, {"offset": "-1"},
])
async def test_bad_paging_is_400(api, mlops_store, params):
    status, body = await api("runs", params=params)
    assert status == 400
    assert body["error"]["type"] == "InvalidInputError"
    assert next(iter(params)) in body["error"]["message"]


async def test_run_detail(api, mlops_store):
    status, body = await api("runs", mlops_store.beta)
    assert status == 200
    assert body["id"] == mlops_store.beta and body["name"] == "beta-artifacts"
    assert {a["name"] for a in body["artifacts"]} == {"config/params.json", "passwd.txt"}
    artifact = next(a for a in body["artifacts"] if a["name"] == "config/params.json")
    assert artifact["media_type"] == "application/json" and artifact["size"] > 0
    assert [d["name"] for d in body["datasets"]] == ["train"]
    assert body["code"]["digest"]
    assert body["environment"]["python"]
    assert body["user"] == "tester"


@pytest.mark.parametrize("suffix", ["", "/metrics/acc", "/notebook", "/artifacts/x.txt"])
async def test_unknown_run_is_404(api, mlops_store, suffix):
    status, body = await api(f"runs/{'0' * 32}{suffix}")
    assert status == 404
    assert body["error"]["type"] == "NotFoundError"
    assert "0" * 32 in body["error"]["message"]


async def test_metric_history_full_and_downsampled(api, mlops_store):
    status, body = await api("runs", mlops_store.alpha[1], "metrics", "acc")
    assert status == 200
    assert [p[0] for p in body["points"]] == [0, 1, 2]
    assert body["points"][-1][1] == pytest.approx(0.58)

    status, body = await api("runs", mlops_store.series, "metrics", "loss",
                             params={"max_points": 200})
    assert status == 200
    assert 2 <= len(body["points"]) <= 200
    assert max(p[1] for p in body["points"]) == mlops_store.spike_value  # peak kept
    assert body["points"][0][0] == 0 and body["points"][-1][0] == 4999

    status, body = await api("runs", mlops_store.series, "metrics", "loss")
    assert status == 200 and len(body["points"]) <= 2000


async def test_metric_history_bad_max_points(api, mlops_store):
    status, body = await api("runs", mlops_store.series, "metrics", "loss",
                             params={"max_points": 1})
    assert status == 400
    status, body = await api("runs", mlops_store.series, "metrics", "nope")
    assert status == 404


async def test_artifact_download_headers(raw_fetch, mlops_store):
    status, headers, body = await raw_fetch(
        f"{API}/runs/{mlops_store.beta}/artifacts/config/params.json")
    assert status == 200
    assert json.loads(body) == {"threshold": 0.5}
    assert headers["Content-Type"].startswith("application/json")
    assert headers["Content-Disposition"].startswith('attachment; filename="params.json"')
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("name", [
    "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "%2Fetc%2Fpasswd",
    "..%2Fpasswd.txt",
    "config%2F..%2F..%2Fpasswd.txt",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%5C..%5Cetc%5Cpasswd",
    "C:%5Cwindows%5Cwin.ini",
    "%252e%252e%252fetc%252fpasswd",
    "passwd.txt%00.json",
])
async def test_artifact_path_traversal_refused(raw_fetch, mlops_store, name):
    status, _headers, body = await raw_fetch(
        f"{API}/runs/{mlops_store.beta}/artifacts/{name}")
    assert 400 <= status < 500
    assert b"root:" not in body


async def test_artifact_traversal_unnormalised_path(raw_fetch, mlops_store):
    # A client that does not normalise `..` (curl --path-as-is) must not escape either.
    status, _headers, body = await raw_fetch(
        f"{API}/runs/{mlops_store.beta}/artifacts/../../../../../etc/passwd")
    assert 400 <= status < 500
    assert b"root:" not in body


async def test_notebook_snapshot(api, mlops_store):
    status, body = await api("runs", mlops_store.beta, "notebook")
    assert status == 200
    assert body["nbformat"] == 4 and body["cells"][0]["source"] == "lr = 0.01"

    status, body = await api("runs", mlops_store.alpha[0], "notebook")
    assert status == 404
    assert "notebook" in body["error"]["message"]


async def test_lineage(api, mlops_store):
    status, body = await api("lineage", params={"node": f"run:{mlops_store.beta}"})
    assert status == 200
    ids = {n["id"] for n in body["nodes"]}
    assert f"run:{mlops_store.beta}" in ids
    assert any(n["type"] == "dataset" for n in body["nodes"])
    assert any(e["dst"] == f"run:{mlops_store.beta}" for e in body["edges"])

    status, body = await api("lineage", params={"node": "spaceship:1"})
    assert status == 400 and "run:<id>" in body["error"]["message"]
    status, body = await api("lineage", params={"node": f"run:{mlops_store.beta}",
                                                "depth": "0"})
    assert status == 400
    status, body = await api("lineage")
    assert status == 400 and "node" in body["error"]["message"]


async def test_patch_renames_and_tags(api, mlops_store):
    run_id = mlops_store.alpha[0]
    status, body = await api("runs", run_id, method="PATCH",
                             body=json.dumps({"name": "renamed", "tags": {"stage": "best"}}))
    assert status == 200
    assert body["name"] == "renamed" and body["tags"]["stage"] == "best"
    status, body = await api("runs", run_id)
    assert body["name"] == "renamed" and body["tags"] == {"idx": "0", "stage": "best"}


@pytest.mark.parametrize("payload", [
    "not json", "[]", "{}", '{"status": "FINISHED"}', '{"name": 3}',
    '{"tags": {"a": null}}', '{"tags": {"a": {"b": 1}}}', '{"name": ""}',
])
async def test_patch_bad_body_is_400(api, mlops_store, payload):
    status, body = await api("runs", mlops_store.alpha[0], method="PATCH", body=payload)
    assert status == 400
    assert body["error"]["message"]


async def test_patch_unknown_run_is_404(api, mlops_store):
    status, _ = await api("runs", "f" * 32, method="PATCH", body='{"name": "x"}')
    assert status == 404


async def test_unexpected_errors_do_not_leak(api, mlops_store, mlops_extension, monkeypatch):
    ext = mlops_extension

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals /etc/shadow")

    monkeypatch.setattr(type(ext.client()), "list_experiments", boom)
    status, body = await api("experiments")
    assert status == 500
    assert "secret" not in json.dumps(body)
    assert body["error"]["type"] == "InternalServerError"
