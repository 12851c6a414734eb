"""Validate at the door: a bad value is refused at the call and never blocks another write.

Issue 12, item 1: ``step=2**63``, a NaN or absurd timestamp, a lone surrogate in a param/tag
value or key used to be accepted by the call, fail at flush, and — re-queued — fail every
later flush, other runs' values included. Each case here is refused with one
``InvalidInputError`` line at the call; every value logged before and after it, to the same
run and to another, is read back by a fresh process. A hypothesis property drives random
sequences of good and hostile calls through :class:`Client` and checks the same in general.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.validation import INT64_MAX, INT64_MIN, MAX_TIMESTAMP
from tests.reliability.faults import record

DUMP = Path(__file__).resolve().parent / "helpers" / "dump_runs.py"


def fresh_read(subprocess_env, url: str, root: str, run_ids) -> dict:
    """What a new process reads back from the store for ``run_ids``."""
    done = subprocess.run([sys.executable, str(DUMP), url, root, *run_ids],
                          env=subprocess_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text, repr(text)
    return text


# ----------------------------------------------------------------------------- regressions
BAD_CALLS = {
    "step 2**63": lambda c, r: c.log_metric(r, "x", 1.0, step=2**63),
    "step -2**63-1": lambda c, r: c.log_metric(r, "x", 1.0, step=-(2**63) - 1),
    "numpy uint64 step": lambda c, r: c.log_metric(r, "x", 1.0, step=np.uint64(2**63)),
    "log_metrics step 2**63": lambda c, r: c.log_metrics(r, {"x": 1.0}, step=2**63),
    "NaN timestamp": lambda c, r: c.log_metric(r, "x", 1.0, timestamp=math.nan),
    "inf timestamp": lambda c, r: c.log_metric(r, "x", 1.0, timestamp=math.inf),
    "negative timestamp": lambda c, r: c.log_metric(r, "x", 1.0, timestamp=-1.0),
    "timestamp in milliseconds past 9999": lambda c, r: c.log_metric(
        r, "x", 1.0, timestamp=MAX_TIMESTAMP * 1000),
    "log_metrics NaN timestamp": lambda c, r: c.log_metrics(r, {"x": 1.0},
                                                            timestamp=math.nan),
    "surrogate param value": lambda c, r: c.log_params(r, {"p": "\udcff"}),
    "surrogate tag value": lambda c, r: c.set_tags(r, {"t": "ok\udcffok"}),
    "surrogate param key": lambda c, r: c.log_params(r, {"\udcff": "v"}),
    "surrogate metric key": lambda c, r: c.log_metric(r, "a\udcff", 1.0),
    "NUL tag value": lambda c, r: c.set_tag(r, "t", "a\x00b"),
    "metric beyond float": lambda c, r: c.log_metric(r, "x", 10**400),
    "metric object": lambda c, r: c.log_metric(r, "x", object()),
    "param value too long": lambda c, r: c.log_param(r, "p", "x" * 6001),
    "malformed run id": lambda c, r: c.log_metric(r + "\udcff", "x", 1.0),
    "run id not a string": lambda c, r: c.log_params(12, {"p": 1}),
    "params not a mapping": lambda c, r: c.log_params(r, [("p", 1)]),
    "create_run surrogate tag": lambda c, r: c.create_run(tags={"t": "\udcff"}),
}


def test_each_bad_value_is_refused_at_the_call_and_blocks_nothing(
        client, store_url, artifact_root, subprocess_env):
    """Every case on its own pair of runs; one fresh process reads all of them back."""
    pairs = {}
    for case in sorted(BAD_CALLS):
        a, b = client.create_run(name=f"a {case}").id, client.create_run(name=f"b {case}").id
        pairs[case] = (a, b)
        for run in (a, b):
            client.log_metric(run, "x", 0.5, step=0)
            client.log_params(run, {"before": "1"})
        with pytest.raises(InvalidInputError) as refused:
            BAD_CALLS[case](client, b)
        one_line(refused.value)
        for run in (a, b):
            client.log_metric(run, "x", 1.5, step=1)
            client.set_tags(run, {"after": "yes"})
        client.flush()  # raised on every flush, for every run, before the fix
    last = client.create_run(name="later").id
    client.log_metric(last, "later", 2.0)
    client.flush()

    got = fresh_read(subprocess_env, store_url, artifact_root,
                     [r for pair in pairs.values() for r in pair] + [last])
    for case, runs in pairs.items():
        for run in runs:
            assert [p[:2] for p in got[run]["metrics"]["x"]] == [[0, 0.5], [1, 1.5]], case
            assert got[run]["params"] == {"before": "1"}, case
            assert got[run]["tags"].get("after") == "yes", case
    assert [p[1] for p in got[last]["metrics"]["later"]] == [2.0]
    record("hostile-value-at-call", inputs=len(BAD_CALLS), checked=6 * len(BAD_CALLS) + 1)


def test_the_next_automatic_step_past_int64_is_refused(client):
    run = client.create_run().id
    client.log_metric(run, "x", 1.0, step=INT64_MAX)  # the last representable step is fine
    with pytest.raises(InvalidInputError, match="pass step= explicitly"):
        client.log_metric(run, "x", 2.0)
    client.log_metric(run, "x", 3.0, step=INT64_MIN)
    client.flush()
    assert [p.step for p in client.metric_history(run, "x")] == [INT64_MIN, INT64_MAX]


def test_accepted_edge_values_round_trip(client, store_url, artifact_root, subprocess_env):
    """What the rules still accept is stored as given: NaN, ±inf, int64 bounds, 1970/9999."""
    run = client.create_run().id
    client.log_metric(run, "nan", math.nan, step=INT64_MIN, timestamp=0)
    client.log_metric(run, "inf", math.inf, step=INT64_MAX, timestamp=MAX_TIMESTAMP)
    client.log_metric(run, "ninf", -math.inf)
    client.log_metric(run, "np", np.float32(0.25), step=np.int64(7))
    client.log_metric(run, "big", 2**1000)
    client.log_params(run, {"k" * 250: "é" * 6000, "emoji 🙂": "🙂", "list": [1, "a"]})
    client.flush()
    got = fresh_read(subprocess_env, store_url, artifact_root, [run])[run]
    assert math.isnan(got["metrics"]["nan"][0][1])
    assert got["metrics"]["nan"][0][0] == INT64_MIN and got["metrics"]["nan"][0][2] == 0
    assert got["metrics"]["inf"][0] == [INT64_MAX, math.inf, MAX_TIMESTAMP]
    assert got["metrics"]["ninf"][0][1] == -math.inf
    assert got["metrics"]["np"][0][:2] == [7, 0.25]
    assert got["metrics"]["big"][0][1] == float(2**1000)
    assert got["params"] == {"k" * 250: "é" * 6000, "emoji 🙂": "🙂", "list": '[1, "a"]'}


# ----------------------------------------------------------------------------- the property
GOOD_KEYS = st.sampled_from(["acc", "loss", "val loss", "ключ", "a.b/c-d_e"])
HOSTILE_TEXT = st.one_of(
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=20),
    st.sampled_from(["\udcff", "a\ud800", "\x00", "tab\tkey", "\x1b[31m", "", " "]),
    st.integers(240, 260).map(lambda n: "k" * n),
)
KEYS = st.one_of(GOOD_KEYS, HOSTILE_TEXT, st.integers(), st.none(), st.just(b"bytes"))
METRIC_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**1100), max_value=2**1100),
    st.floats(width=32).map(np.float32),
    st.integers(INT64_MIN, INT64_MAX).map(np.int64),
    st.booleans(), st.none(), st.text(max_size=5), st.just(object()),
    st.just(np.array(1.5)), st.just(np.array([1.0, 2.0])), st.just(1 + 2j),
)
STEPS = st.one_of(
    st.none(), st.integers(min_value=-(2**65), max_value=2**65),
    st.integers(0, 2**64 - 1).map(np.uint64), st.floats(), st.booleans(), st.just("3"),
)
TIMESTAMPS = st.one_of(
    st.none(), st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0, max_value=MAX_TIMESTAMP),
    st.integers(min_value=-(2**70), max_value=2**70), st.just("now"),
)
TEXT_VALUES = st.one_of(
    st.text(max_size=30), HOSTILE_TEXT, st.integers(6000, 6002).map(lambda n: "v" * n),
    st.floats(allow_nan=True), st.integers(), st.lists(st.integers(), max_size=3),
    st.none(), st.booleans(),
)
OPS = st.lists(st.one_of(
    st.tuples(st.just("metric"), st.integers(0, 1), KEYS, METRIC_VALUES, STEPS, TIMESTAMPS),
    st.tuples(st.just("metrics"), st.integers(0, 1),
              st.dictionaries(KEYS, METRIC_VALUES, max_size=3), STEPS),
    st.tuples(st.just("param"), st.integers(0, 1), KEYS, TEXT_VALUES),
    st.tuples(st.just("tag"), st.integers(0, 1), KEYS, TEXT_VALUES),
), min_size=1, max_size=12)


def _obviously_bad_text(value) -> bool:
    return isinstance(value, str) and (
        "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value))


def _obviously_bad(op) -> bool:
    """Inputs that must be refused whatever else the rules decide (the property's teeth)."""
    kind = op[0]
    if kind == "metric":
        _, _, key, value, step, ts = op
        return (_obviously_bad_text(key) or (isinstance(step, int) and not isinstance(
            step, bool) and not INT64_MIN <= step <= INT64_MAX)
            or (isinstance(ts, float) and not math.isfinite(ts)) or value is None)
    if kind in ("param", "tag"):
        return _obviously_bad_text(op[2]) or _obviously_bad_text(op[3])
    return any(_obviously_bad_text(k) for k in op[2])


class Model:
    """What the store must hold afterwards for the calls that were accepted."""

    def __init__(self):
        self.params: dict[tuple[str, str], str] = {}
        self.tags: dict[tuple[str, str], str] = {}
        self.points: dict[tuple[str, str], list[tuple[int | None, float]]] = {}

    def metric(self, run, key, value, step) -> None:
        self.points.setdefault((run, key), []).append(
            (None if step is None else int(step), float(value)))


def apply(client, runs, op, model: Model) -> bool:
    """Run one call; True if accepted. A refusal must be one InvalidInputError line."""
    from jupyter_mlops.validation import to_param_value

    kind, run = op[0], runs[op[1]]
    try:
        if kind == "metric":
            _, _, key, value, step, ts = op
            client.log_metric(run, key, value, step=step, timestamp=ts)
            model.metric(run, key, value, step)
        elif kind == "metrics":
            _, _, values, step = op
            client.log_metrics(run, values, step=step)
            for k, v in values.items():
                model.metric(run, k, v, step)
        elif kind == "param":
            client.log_params(run, {op[2]: op[3]})
            model.params[(run, op[2])] = to_param_value(op[2], op[3])
        else:
            client.set_tags(run, {op[2]: op[3]})
            model.tags[(run, op[2])] = to_param_value(op[2], op[3], "tag")
    except InvalidInputError as exc:
        one_line(exc)
        return False
    assert not _obviously_bad(op), f"accepted an invalid call: {op!r}"
    return True


def check(got: dict, model: Model) -> int:
    """Assert every accepted value is in ``got`` (a fresh read); return how many were checked."""
    n = 0
    for (run, key), value in model.params.items():
        assert got[run]["params"][key] == value
        n += 1
    for (run, key), value in model.tags.items():
        assert got[run]["tags"][key] == value
        n += 1
    for (run, key), points in model.points.items():
        stored = got[run]["metrics"][key]
        assert len(stored) == len(points), (key, stored, points)
        values = sorted(repr(v) for _, v, _ in stored)
        assert values == sorted(repr(v) for _, v in points)
        explicit = sorted(s for s, _ in points if s is not None)
        assert set(explicit) <= {s for s, _, _ in stored}
        n += len(points)
    return n


@pytest.mark.slow
def test_random_good_and_hostile_calls_never_lose_or_block(
        client, store_url, artifact_root, subprocess_env):
    model = Model()
    all_runs: list[str] = []
    tried = {"calls": 0, "refused": 0}

    @settings(max_examples=150, deadline=None, derandomize=False,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(ops=OPS)
    def run_sequence(ops):
        runs = [client.create_run(name="prop").id for _ in range(2)]
        all_runs.extend(runs)
        here = Model()
        for op in ops:
            tried["calls"] += 1
            if not apply(client, runs, op, here):
                tried["refused"] += 1
        # This example's runs are its own: merge its expectations into the whole test's.
        model.params.update(here.params)
        model.tags.update(here.tags)
        model.points.update(here.points)
        client.flush()  # must never raise: nothing invalid was queued
        # In-process check too, so hypothesis can shrink a failure to a minimal sequence.
        got = {r: {"params": (d := client.get_run(r).run).params, "tags": d.tags,
                   "metrics": {k: [[p.step, p.value, p.timestamp]
                                   for p in client.metric_history(r, k)]
                               for k in client.store.runs.metric_keys(r)}} for r in runs}
        check(got, here)

    run_sequence()
    # The writer is alive and a later good value is durable.
    last = client.create_run(name="after").id
    client.log_metric(last, "alive", 1.0)
    client.flush()
    assert client.writer._thread is not None and client.writer._thread.is_alive()
    got = fresh_read(subprocess_env, store_url, artifact_root, all_runs + [last])
    checked = check(got, model)
    assert got[last]["metrics"]["alive"][0][1] == 1.0
    assert tried["refused"] > 0 and tried["calls"] > tried["refused"]
    record("fuzz-client-calls", inputs=tried["calls"], checked=checked)
