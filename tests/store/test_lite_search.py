"""Filtered search on a SQLite file without SQLAlchemy (store/lite_search.py, issue 14).

Every answer of the sqlite3 path is compared with the SQLAlchemy RunStore's on the same real
SQLite store: random filters and orders (hypothesis), hostile values, paging; the fallback for
what lite_search does not compile; and a fresh process that searches without importing
SQLAlchemy at all.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import FilterSyntaxError, InvalidInputError
from jupyter_mlops.store import lite_search
from jupyter_mlops.store.filter_ast import INLINE_DEPTH
from jupyter_mlops.store.lite import LiteRunStore
from jupyter_mlops.store.migrate import ensure_schema
from jupyter_mlops.store.runs import RunStore

HOSTILE = ["it's", "50%", "a_b", "a%b_c", "ünïcødé", "日本語", "x" * 3000, "\\", '"q"', "[*?",
           "A", "a", "svc", "SVC", "1e3", "-2.5", "7", "auto", "", " ", "O'Brien%_\\x"]
MODELS = ["svc", "lr", "rf", "SVC", "it's", "50%", "a_b", "[*?", "ünïcødé"]
LRS = ["0.1", "1", "7", "1e3", "-2.5", "auto", "", ".5", "1" * 40]


def seed_varied(lite, longest: int = 300) -> None:
    """60 varied runs in three experiments, written through ``lite`` (a run store); one name
    is ``longest`` characters long (PostgreSQL holds 256)."""
    names = ["cv-1", "cv_2", "Cv-3", "it's", "50%", "日本", "a" * longest, "[x]"]
    for i in range(60):
        exp = ("exp-a", "exp-b", "it's %_exp")[i % 3]
        run = lite.create_run(experiment=exp, name=names[i % len(names)] + str(i % 5),
                              user=("ann", "bob", "O'Brien")[i % 3])
        params = [("model", MODELS[i % len(MODELS)]), ("lr", LRS[i % len(LRS)])]
        if i % 4:
            params.append(("depth", str(i % 6)))
        metrics = [("acc", (i * 37 % 100) / 100, 0, 1.0)]
        if i % 5 == 0:
            metrics.append(("loss", math.nan, 0, 1.0))  # stored as NULL
        elif i % 5 != 1:
            metrics.append(("loss", i / 7, 0, 1.0))
        tags = [("team", ("nlp", "vision", "it's", "50%")[i % 4])] if i % 3 else []
        lite.log_batch(run.id, params=params, metrics=metrics, tags=tags)
        if i % 7:  # every seventh run is still running: end_time NULL
            lite.end_run(run.id, ("FINISHED", "FAILED", "KILLED")[i % 3])


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A real SQLite store of 60 varied runs in three experiments, written by LiteRunStore."""
    folder = tmp_path_factory.mktemp("lite_search")
    url = f"sqlite:///{folder / 'mlops.db'}"
    ensure_schema(url)
    seed_varied(LiteRunStore(url))
    return url


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _norm(records) -> list:
    """Comparable records (NaN metrics made equal)."""
    return [(r.id, r.experiment, r.name, r.status, r.user, r.start_time, r.end_time,
             r.reproducible, sorted(r.params.items()), sorted(r.tags.items()),
             sorted((k, "nan" if v != v else v) for k, v in r.metrics.items()))
            for r in records]


def lite_answer(url, *args):
    """What LiteRunStore.search_runs runs for a compiled filter: build_search on sqlite3."""
    store = LiteRunStore(url)
    sql, bound = lite_search.build_search(*args)
    return store._records(store._db.read(sql, bound))


def sqlalchemy_answer(url, filter, experiment, order_by, max_results, offset):
    store = RunStore(url)
    return store.search_runs(filter, experiment, order_by, max_results, offset)


@pytest.fixture(autouse=True)
def _no_index(monkeypatch):
    monkeypatch.setenv("MLOPS_SEARCH_INDEX", "0")  # the SQLAlchemy path must answer in SQL


# ----------------------------------------------------------------------------- strategies
numbers = st.sampled_from(["0", "0.5", "-1", ".5", "1e-3", "7", "2.5", "100", "0.37"]) | \
    st.floats(-50, 50, allow_nan=False).map(lambda f: repr(round(f, 3)))
texts = st.sampled_from(HOSTILE + MODELS + LRS) | st.text(max_size=12).filter(
    lambda s: "\x00" not in s and not any("\ud800" <= c <= "\udfff" for c in s))
patterns = st.sampled_from(["%", "cv%", "%s%", "_v%", "it''s%", "50\\%%", "a\\_b", "[*?%",
                            "%ü%", "C%", "%a_", "", "\\\\"])


def _set(values):
    return "(" + ", ".join(values) + ")"


@st.composite
def comparisons(draw):
    kind = draw(st.sampled_from(["metric", "param", "tag", "text_attr", "num_attr"]))
    if kind == "metric":
        field = "metrics." + draw(st.sampled_from(["acc", "loss", "nothing", "`val loss`"]))
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "in", "not in",
                                   "is null", "is not null"]))
        value = draw(numbers)
    elif kind == "num_attr":
        field = draw(st.sampled_from(["start_time", "end_time", "attributes.end_time"]))
        op = draw(st.sampled_from(["=", "!=", "<", ">=", "is null", "is not null", "in"]))
        value = draw(st.sampled_from(["0", "1e12", "99999999999"]))
    else:
        field = {"param": "params." + draw(st.sampled_from(["model", "lr", "depth", "absent"])),
                 "tag": "tags." + draw(st.sampled_from(["team", "none"])),
                 "text_attr": draw(st.sampled_from(
                     ["status", "name", "user", "run_id", "experiment", "attributes.name"]))}[kind]
        op = draw(st.sampled_from(["=", "!=", "<", ">=", "like", "ilike", "not like",
                                   "not ilike", "in", "not in", "is null", "is not null"]))
        if op in ("like", "ilike", "not like", "not ilike"):
            return f"{field} {op} '{draw(patterns)}'"
        numeric = kind == "param" and op in ("<", ">=", "=", "in") and draw(st.booleans())
        value = draw(numbers) if numeric else _quote(draw(texts))
    if op in ("is null", "is not null"):
        return f"{field} {op}"
    if op in ("in", "not in"):
        return f"{field} {op} {_set([value] + [value.replace('1', '2')] * draw(st.integers(0, 2)))}"
    return f"{field} {op} {value}"


def filters(depth: int = 3):
    return st.recursive(
        comparisons(),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from([" and ", " or "]), inner).map(
                lambda t: f"({t[0]}{t[1]}{t[2]})"),
            inner.map(lambda f: f"not ({f})")),
        max_leaves=depth * 2)


orders = st.lists(
    st.tuples(st.sampled_from(["metrics.acc", "metrics.loss", "params.model", "params.lr",
                               "tags.team", "name", "start_time", "end_time", "experiment",
                               "status", "run_id", "user"]),
              st.sampled_from(["", " ASC", " DESC", " desc"])).map(lambda t: t[0] + t[1]),
    max_size=3)


# ----------------------------------------------------------------------------- equivalence
@pytest.mark.slow  # 300 hypothesis examples, each searched twice: 53 s at load ~25
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(flt=st.none() | filters(), order_by=st.none() | orders,
       experiment=st.sampled_from([None, "exp-a", "it's %_exp", "missing"]),
       max_results=st.integers(1, 70), offset=st.integers(0, 30))
def test_random_filters_match_the_sqlalchemy_path(seeded, flt, order_by, experiment,
                                                  max_results, offset):
    args = (flt, experiment, order_by or None, max_results, offset)
    assert _norm(lite_answer(seeded, *args)) == _norm(sqlalchemy_answer(seeded, *args))


def test_the_random_filters_select_something(seeded):
    """The equivalence test is not vacuous: hand-picked filters find some runs, not all."""
    for flt in ["metrics.acc > 0.5 and params.model = 'svc'", "params.lr >= 1",
                "tags.team ilike 'NLP'", "name like 'cv%'", "not (end_time is null)",
                "params.model in ('it''s', '50%')", "metrics.loss is null",
                "experiment = 'it''s %_exp' and user = 'O''Brien'"]:
        found = lite_answer(seeded, flt, None, None, 100, 0)
        assert 0 < len(found) < 60, flt
        assert _norm(found) == _norm(sqlalchemy_answer(seeded, flt, None, None, 100, 0))


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_bound_never_spliced(seeded, value):
    templates = ["params.model = {q}", "tags.team != {q}", "name like {q}",
                 "params.model not ilike {q}", "user in ({q}, 'ann')", "params.{k} = 'x'",
                 "experiment = {q}"]
    for template in templates:
        def flt(v):
            return template.format(q=_quote(v), k="`" + v.replace("\\", "\\\\")
                                   .replace("`", "``") + "`")
        if "{k}" in template and not value:
            continue  # an empty key is a syntax error in both paths
        # The SQL text is the same whatever the value: values only ever travel as parameters.
        assert lite_search.build_search(flt(value), None, None, 100, 0)[0] == \
            lite_search.build_search(flt("zzz"), None, None, 100, 0)[0]
        assert _norm(lite_answer(seeded, flt(value), None, None, 100, 0)) == _norm(
            sqlalchemy_answer(seeded, flt(value), None, None, 100, 0)), flt(value)


def test_paging_covers_every_run_once_in_both_paths(seeded):
    order = ["params.model DESC", "metrics.loss"]
    pages = [lite_answer(seeded, "status != 'x'", None, order, 7, o) for o in range(0, 63, 7)]
    ids = [r.id for page in pages for r in page]
    assert len(ids) == len(set(ids)) == 60
    assert ids == [r.id for r in sqlalchemy_answer(seeded, "status != 'x'", None, order, 60, 0)]


def test_statement_shape_is_filter_sqls(seeded):
    """The shapes the planner-statistics tests verified: EXISTS per key, IN for experiments."""
    sql, bound = lite_search.build_search("metrics.acc > 0.9 and params.model = 'svc'",
                                          "exp-a", None, 100, 0)
    assert ("EXISTS (SELECT * FROM latest_metrics WHERE latest_metrics.run_id = runs.id AND "
            'latest_metrics."key" = ? AND latest_metrics.value > ?)') in sql
    assert ("runs.experiment_id IN (SELECT experiments.id FROM experiments WHERE "
            "experiments.name = ?)") in sql
    assert sql.endswith("ORDER BY runs.start_time DESC, runs.id ASC LIMIT ? OFFSET ?")
    assert bound == ["acc", 0.9, "model", "svc", "exp-a", 100, 0]


# ----------------------------------------------------------------------------- fallback, errors
def _deep(levels: int) -> str:
    flt = "metrics.acc > 0.2"
    for i in range(levels):
        flt = f"not ({flt} {'and' if i % 2 else 'or'} params.model = 'svc')"
    return flt


def test_too_deep_a_filter_falls_back_to_sqlalchemy(seeded, monkeypatch):
    deep = _deep(INLINE_DEPTH + 2)
    with pytest.raises(lite_search.Unsupported):
        lite_search.build_search(deep, None, None, 100, 0)
    lite_search.build_search(_deep(INLINE_DEPTH // 2 - 1), None, None, 100, 0)  # compiled here

    store = LiteRunStore(seeded)
    calls = []
    real = RunStore.search_runs
    monkeypatch.setattr(RunStore, "search_runs",
                        lambda self, *a, **kw: calls.append(a) or real(self, *a, **kw))
    monkeypatch.delitem(sys.modules, "jupyter_mlops.store.run_index", raising=False)
    found = store.search_runs(deep, None, None, 100, 0)
    assert calls == [(deep, None, None, 100, 0)]
    assert found and _norm(found) == _norm(real(RunStore(seeded), deep, None, None, 100, 0))
    store.search_runs("params.model = 'svc'", None, None, 100, 0)
    assert len(calls) == 1  # a supported filter is answered on sqlite3


@pytest.mark.parametrize("flt, order_by, error", [
    ("metrics.acc > 'x'", None, FilterSyntaxError),
    ("params.model = ", None, FilterSyntaxError),
    ("bogus.k = 1", None, FilterSyntaxError),
    (None, ["metrics.acc sideways"], FilterSyntaxError),
    (None, 5, InvalidInputError),
])
def test_invalid_input_raises_what_the_sqlalchemy_path_raises(seeded, flt, order_by, error):
    with pytest.raises(error):
        RunStore(seeded).search_runs(flt, None, order_by, 10, 0)
    with pytest.raises(error):
        LiteRunStore(seeded).search_runs(flt, None, order_by, 10, 0)


# ----------------------------------------------------------------------------- fresh process
FRESH = r"""
import json, sys
from jupyter_mlops.client import Client
c = Client(sys.argv[1], sys.argv[2])
found = c.search_runs("metrics.acc > 0.5 and params.model = 'svc'", experiment="exp-a",
                      order_by=["metrics.acc DESC"], max_results=100)
hint = c.filter_hint("metrics.ac > 0.5")
print(json.dumps({"ids": [r.id for r in found], "hint": hint,
                  "sqlalchemy": sorted(m for m in sys.modules if m.split(".")[0] == "sqlalchemy")}))
"""


def test_a_fresh_process_searches_without_sqlalchemy(seeded, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "MLOPS_HOME": str(tmp_path / "home"),
           "MLOPS_SEARCH_INDEX": "0"}
    out = subprocess.run([sys.executable, "-c", FRESH, seeded, str(tmp_path / "art")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["sqlalchemy"] == []
    expected = sqlalchemy_answer(seeded, "metrics.acc > 0.5 and params.model = 'svc'", "exp-a",
                                 ["metrics.acc DESC"], 100, 0)
    assert expected and result["ids"] == [r.id for r in expected]
    assert "metrics.acc" in result["hint"]  # the hint is read on sqlite3 too
