"""A NUL character (``\\x00``) in user text: one clear refusal on every backend, never a
driver error (PostgreSQL cannot store NUL in text; psycopg refused the whole statement)."""

from __future__ import annotations

import pytest

from jupyter_mlops.errors import InvalidInputError, NotFoundError


def test_an_experiment_name_with_nul_is_refused_and_nothing_is_lost(client):
    run = client.create_run(experiment="kept", name="before")
    with pytest.raises(InvalidInputError, match="printable"):
        client.create_run(experiment="churn\x00")
    client.log_metric(run.id, "loss", 0.5)  # the store is not wedged by the refusal
    client.end_run(run.id)
    assert client.get_run(run.id).metrics == {"loss": 0.5}
    assert [e.name for e in client.list_experiments() if "churn" in e.name] == []


def test_a_lookup_by_a_name_with_nul_answers_one_line(client):
    from jupyter_mlops.store.pipelines import PipelineStore

    with pytest.raises((InvalidInputError, NotFoundError)) as caught:
        PipelineStore(client.store.url).get_schedule("nightly\x00")
    assert "\n" not in str(caught.value)
