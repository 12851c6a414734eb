"""GET runs answers a filter naming a key no run has with a hint, never a silent empty page."""

from __future__ import annotations


async def test_a_misspelt_metric_key_gets_a_hint(api, mlops_store):
    status, body = await api("runs", params={"filter": "metrics.acx > 0.8"})
    assert status == 200 and body["runs"] == [] and body["total"] == 0
    assert "No run has metrics.acx; did you mean metrics.acc?" in body["hint"]


async def test_known_keys_answer_without_a_hint(api, mlops_store):
    status, body = await api("runs", params={"filter": "metrics.acc > 0.8"})
    assert status == 200 and body["total"] == 2 and body["hint"] is None
    status, body = await api("runs")
    assert body["hint"] is None
