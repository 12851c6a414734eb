"""Concurrent small requests scored in one model call (serving/batching.py), never changing an
answer and never letting one refused request fail another."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_mlops.serving.batching import MicroBatcher, batch_invariant, batching_enabled

from .conftest import Server


class Refused(ValueError):
    pass


class CountingModel:
    """Row sums; any row with a negative first value is refused (as a model's ValueError)."""

    def __init__(self):
        self.calls: list[int] = []

    def __call__(self, X):
        self.calls.append(len(X))
        if (X[:, 0] < 0).any():
            raise Refused(f"refused {int((X[:, 0] < 0).sum())} row(s)")
        return X.sum(axis=1)


async def _score_all(batcher, matrices):
    return await asyncio.gather(*(batcher.score(X) for X in matrices), return_exceptions=True)


def test_requests_of_one_loop_turn_are_scored_in_one_call():
    model = CountingModel()
    batcher = MicroBatcher(model)
    matrices = [np.full((1, 3), float(i)) for i in range(16)]
    answers = asyncio.run(_score_all(batcher, matrices))
    assert model.calls == [16]
    assert batcher.batches == 1
    assert [a.tolist() for a in answers] == [[3.0 * i] for i in range(16)]


def test_a_lone_request_is_scored_alone():
    model = CountingModel()
    answers = asyncio.run(_score_all(MicroBatcher(model), [np.ones((2, 3))]))
    assert model.calls == [2] and answers[0].tolist() == [3.0, 3.0]


def test_one_refused_request_fails_alone_and_the_others_get_their_answers():
    model = CountingModel()
    matrices = [np.ones((1, 3)), -np.ones((1, 3)), 2 * np.ones((1, 3))]
    answers = asyncio.run(_score_all(MicroBatcher(model), matrices))
    assert answers[0].tolist() == [3.0] and answers[2].tolist() == [6.0]
    assert isinstance(answers[1], Refused)
    assert model.calls == [3, 1, 1, 1]  # the batch, then each request alone


def test_a_batch_never_grows_past_max_rows():
    model = CountingModel()
    batcher = MicroBatcher(model, max_rows=10)
    answers = asyncio.run(_score_all(batcher, [np.ones((4, 3)) for _ in range(5)]))
    assert all(a.tolist() == [3.0] * 4 for a in answers)
    assert max(model.calls) <= 10 and sum(model.calls) == 20
    big = asyncio.run(_score_all(batcher, [np.ones((10, 3))]))  # at the limit: scored alone
    assert big[0].tolist() == [3.0] * 10


def test_a_cancelled_request_is_skipped():
    model = CountingModel()
    batcher = MicroBatcher(model)

    async def scenario():
        doomed = asyncio.ensure_future(batcher.score(np.full((1, 3), 9.0)))
        kept = asyncio.ensure_future(batcher.score(np.ones((1, 3))))
        await asyncio.sleep(0)  # both queued
        doomed.cancel()
        return await kept

    assert asyncio.run(scenario()).tolist() == [3.0]
    assert model.calls == [1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.booleans()), min_size=1, max_size=24),
       st.integers(1, 40))
def test_any_mix_of_requests_gets_exactly_its_own_answer(shapes, max_rows):
    """Random request sizes, random refused ones, any batch limit: every request gets what it
    would get scored alone: its row sums, or its own refusal."""
    rng = np.random.default_rng(len(shapes) * 100 + max_rows)
    matrices = []
    for rows, refused in shapes:
        X = rng.uniform(0, 1, size=(rows, 3))
        if refused:
            X[rng.integers(rows), 0] = -1.0
        matrices.append(X)
    answers = asyncio.run(_score_all(MicroBatcher(CountingModel(), max_rows), matrices))
    for X, (_, refused), answer in zip(matrices, shapes, answers):
        if refused:
            assert isinstance(answer, Refused)
        else:
            assert np.array_equal(answer, X.sum(axis=1))


def test_batch_invariance_is_checked_bit_for_bit():
    example = np.arange(12.0).reshape(4, 3)
    assert batch_invariant(lambda X: X.sum(axis=1), example)
    assert batch_invariant(lambda X: (X[:, 0] > 0).astype(int), example)
    # An answer that depends on the rest of the batch, or one off by the last bit in a batch.
    assert not batch_invariant(lambda X: X[:, 0] - X[:, 0].mean(), example)
    assert not batch_invariant(
        lambda X: X.sum(axis=1) * (1 + (len(X) > 1) * np.finfo(float).eps), example)
    assert not batch_invariant(lambda X: X.sum(), example)  # not one answer per row
    assert not batch_invariant(CountingModel(), example - 100)  # a model that refuses
    assert not batch_invariant(lambda X: X.sum(axis=1), np.zeros((2, 0)))  # no columns


@pytest.mark.parametrize("value, on", [("1", True), ("", True), ("0", False), ("off", False),
                                       ("FALSE", False)])
def test_the_switch(monkeypatch, value, on):
    monkeypatch.setenv("MLOPS_SERVE_BATCH", value)
    assert batching_enabled() is on


def test_served_models_batch_only_what_is_batch_invariant(numeric_version, monkeypatch):
    from jupyter_mlops.serving.holder import ServedModel

    loaded, version, _, _ = numeric_version
    assert ServedModel(loaded, version).batcher is not None  # a classifier's labels
    monkeypatch.setenv("MLOPS_SERVE_BATCH", "0")
    assert ServedModel(loaded, version).batcher is None


def test_concurrent_requests_to_a_real_server_get_the_answers_of_requests_sent_alone(project):
    """64 one-row requests at once against the model server: each answer is the model's own
    answer for that row (the served model is a LogisticRegression, batch invariant here)."""
    rows = project.X.sample(64, random_state=3)
    expected = project.v1_model.predict(rows).tolist()
    server = Server(project)
    answers: list = [None] * len(rows)
    try:
        def ask(i):
            body = json.dumps({"dataframe_split": {"columns": list(rows.columns),
                                                   "data": [rows.iloc[i].tolist()]}}).encode()
            req = urllib.request.Request(server.url + "/invocations", data=body,
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                answers[i] = json.loads(r.read())["predictions"]
        threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(rows))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with urllib.request.urlopen(server.url + "/metrics", timeout=30) as r:
            metrics = r.read().decode()
    finally:
        server.stop()
    assert [a[0] for a in answers] == expected
    batched = [line for line in metrics.splitlines()
               if line.startswith("mlops_serving_batched_requests_total ")]
    assert len(batched) == 1  # counted; how many met in one turn depends on the machine


@pytest.fixture(scope="module")
def numeric_version(tmp_path_factory):
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlops.client import Client

    root = tmp_path_factory.mktemp("batching")
    client = Client(f"sqlite:///{root / 'mlops.db'}", str(root / "artifacts"))
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=5000).fit(X.iloc[:, :3], y)
    v = client.registry.register_model(model, "num", input_example=X.iloc[:3, :3])
    yield client.registry.load_model("models:/num/1"), v, None, None
    client.close()
