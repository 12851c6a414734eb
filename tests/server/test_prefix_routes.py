"""REST ids like git, and the store's reason: a unique run-id prefix works in runs/<id> and
lineage, an ambiguous one is a 400 listing the candidates, an unknown one a 404; the health
route says which store the server uses and why."""

from __future__ import annotations

import json
import random
import string
from urllib.parse import quote

import pytest

A = "abcd1234" + "0" * 24
B = "abcd5678" + "1" * 24


@pytest.fixture
def twins(mlops_store):
    """Two runs whose ids share the prefix 'abcd', created through the store with chosen ids."""
    from jupyter_mlops.client import Client

    client = Client(mlops_store.tracking_uri, mlops_store.artifact_root)
    for run_id, name in ((A, "twin-a"), (B, "twin-b")):
        client.store.runs.create_run(experiment="twins", name=name, user="u", run_id=run_id)
    return mlops_store


async def test_health_names_the_store_and_why(api, mlops_store):
    status, body = await api("health")
    assert status == 200
    store = body["store"]
    assert store["tracking_uri"] == mlops_store.tracking_uri
    assert store["source"] == "environment" and "MLOPS_TRACKING_URI" in store["reason"]


async def test_run_routes_accept_a_unique_prefix(api, twins):
    beta = twins.beta
    status, body = await api("runs", beta[:10])
    assert status == 200 and body["id"] == beta
    status, body = await api("runs", "abcd12")
    assert status == 200 and body["id"] == A
    status, body = await api("runs", "abcd56", method="PATCH", body=json.dumps({"name": "b2"}))
    assert status == 200 and body["id"] == B and body["name"] == "b2"
    status, body = await api("runs", beta[:8], "notebook")
    assert status == 200 and body["cells"]


async def test_lineage_accepts_a_prefix_and_refuses_unknown_ids(api, twins):
    beta = twins.beta
    status, body = await api("lineage", params={"node": f"run:{beta[:12]}"})
    assert status == 200 and f"run:{beta}" in {n["id"] for n in body["nodes"]}
    status, body = await api("lineage", params={"node": "run:0123456789ab"})
    assert status == 404 and "0123456789ab" in body["error"]["message"]
    status, body = await api("lineage", params={"node": "run:" + "9" * 32})
    assert status == 404


async def test_an_ambiguous_prefix_is_a_400_listing_the_candidates(api, twins):
    status, body = await api("runs", "abcd")
    assert status == 400
    message = body["error"]["message"]
    assert A in message and B in message and "twin-a" in message and "twin-b" in message
    status, body = await api("lineage", params={"node": "run:abcd"})
    assert status == 400 and A in body["error"]["message"]


async def test_random_prefixes_are_never_a_500_nor_a_wrong_run(raw_fetch, twins):
    known = [A, B, twins.beta, twins.live, *twins.alpha]
    rng = random.Random(15)
    alphabet = string.hexdigits.lower() + "-_%'\" é"
    texts = [k[:n] for k in known for n in (3, 4, 5, 9)]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(40)]
    for text in texts:
        status, _headers, body = await raw_fetch(f"mlops/api/v1/runs/{quote(text, safe='')}")
        assert status in (200, 400, 404), (text, status, body[:300])
        matching = [k for k in known if k.startswith(text.strip())]
        if status == 200:
            assert json.loads(body)["id"] in matching and len(matching) == 1, text
        else:
            assert json.loads(body)["error"]["type"] != "InternalError", text
