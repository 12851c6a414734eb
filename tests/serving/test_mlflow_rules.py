"""``serve --input-rules mlflow``: MLflow's conversions, without a server (the protocol cases
against a real server are in test_mlflow_protocol.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.serving.inputs import InputError, parse_body
from jupyter_mlops.serving.mlflow_rules import check_rules, coerce, refuse_positional


def test_values_are_converted_as_mlflow_converts_them():
    frame = pd.DataFrame({"age": [30.5, "42", True], "income": ["1.5", 2, 3.25],
                          "plan": [7, None, "pro"]})
    out = coerce(frame, ["age", "income", "plan"], ["integer", "float", "string"])
    assert out["age"].tolist() == [30, 42, 1] and out["age"].dtype == np.int64
    assert out["income"].tolist() == [1.5, 2.0, 3.25] and out["income"].dtype == np.float64
    assert out["plan"].tolist() == ["7", None, "pro"]


@pytest.mark.parametrize("values,shown", [
    ([1, None], "row 1 is null"),
    (["x"], "row 0 holds 'x'"),
    ([float("inf")], "row 0 holds inf"),
    (["9" * 100_000], "row 0 holds '99999"),
])
def test_what_cannot_be_converted_is_one_bad_request_naming_column_and_row(values, shown):
    with pytest.raises(InputError) as info:
        coerce(pd.DataFrame({"age": values}), ["age"], ["integer"])
    message = str(info.value)
    assert info.value.status == 400 and info.value.code == "BAD_REQUEST"
    assert "'age'" in message and shown in message
    assert len(message) < 200  # a long value is not echoed back


_JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.from_regex(r"-?[0-9]{1,25}(\.[0-9]{0,5})?", fullmatch=True))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_JSON_VALUES, min_size=1, max_size=6),
       st.sampled_from(["integer", "float", "string", "boolean", "category", "datetime"]))
def test_any_json_value_converts_or_is_one_bad_request(values, kind):
    frame = pd.DataFrame({"c": pd.Series(values, dtype=object)})
    try:
        out = coerce(frame, ["c"], [kind])
    except InputError as exc:
        assert exc.status == 400 and exc.code == "BAD_REQUEST" and "'c'" in str(exc)
        return
    assert len(out) == len(values)
    if kind == "integer":
        assert out["c"].dtype == np.int64
    elif kind == "float":
        assert out["c"].dtype == np.float64
    elif kind in ("string", "category"):
        assert all(v is None or isinstance(v, str) for v in out["c"])


@pytest.mark.parametrize("body,code", [
    ({"dataframe_split": {"data": [[1, 2.0]]}}, "INVALID_PARAMETER_VALUE"),
    ({"instances": [[1, 2.0]]}, "BAD_REQUEST"),
    ({"inputs": [[1, 2.0]]}, "BAD_REQUEST"),
])
def test_positional_rows_are_refused_for_named_columns_with_mlflows_codes(body, code):
    parsed = parse_body(json.dumps(body).encode())
    with pytest.raises(InputError) as info:
        refuse_positional(parsed, ["a", "b"])
    assert info.value.code == code
    refuse_positional(parsed, None)  # a model without named columns takes them


def test_short_split_rows_are_padded_only_when_asked():
    body = json.dumps({"dataframe_split": {"columns": ["a", "b", "c"],
                                           "data": [[1, 2, 3], [4]]}}).encode()
    with pytest.raises(InputError, match="Row 1 must be"):
        parse_body(body)
    assert parse_body(body, pad_short_rows=True).data == [[1, 2, 3], [4, None, None]]
    longer = json.dumps({"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}).encode()
    with pytest.raises(InputError, match="Row 0 must be"):
        parse_body(longer, pad_short_rows=True)


def test_unknown_rules_are_one_line():
    with pytest.raises(ValueError, match="Unknown input rules 'lax': use strict or mlflow"):
        check_rules("lax")


@pytest.fixture(scope="module")
def numeric_version(tmp_path_factory):
    """An all-numeric model (the server's pandas-free fast path) and its registry version."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlops.client import Client

    root = tmp_path_factory.mktemp("mlflow_rules")
    client = Client(f"sqlite:///{root / 'mlops.db'}", str(root / "artifacts"))
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :3]
    model = LogisticRegression(max_iter=2000).fit(X, y)
    v = client.registry.register_model(model, "num", input_example=X.head(3))
    loaded = client.registry.load_model("models:/num/1")
    yield loaded, v, list(X.columns), X.head(2)
    client.close()


def _served(numeric_version, rules):
    from jupyter_mlops.serving.holder import ServedModel

    loaded, version, _, _ = numeric_version
    return ServedModel(loaded, version, rules)


def test_a_fast_model_under_mlflow_rules_converts_what_strict_rules_refuse(numeric_version):
    _, _, cols, rows = numeric_version
    clean = rows.to_numpy().tolist()
    texty = [[str(v) for v in r] for r in clean]  # numbers sent as strings
    body = json.dumps({"dataframe_split": {"columns": cols, "data": texty}}).encode()
    strict, mlflow = _served(numeric_version, "strict"), _served(numeric_version, "mlflow")
    assert strict.fast and mlflow.fast
    with pytest.raises(InputError):
        strict.prepare(parse_body(body))
    want = strict.predict(strict.prepare(parse_body(json.dumps(
        {"dataframe_split": {"columns": cols, "data": clean}}).encode())))
    got = mlflow.predict(mlflow.prepare(parse_body(body)))
    assert np.array_equal(got, want)


def test_a_fast_model_under_mlflow_rules_still_refuses_nan_it_cannot_score(numeric_version):
    _, _, cols, _ = numeric_version
    served = _served(numeric_version, "mlflow")
    body = json.dumps({"dataframe_split": {"columns": cols,
                                           "data": [["1.0", None, 3]]}}).encode()
    with pytest.raises(InputError) as info:
        served.prepare(parse_body(body))
    assert info.value.code == "BAD_REQUEST" and repr(cols[1]) in str(info.value)
