"""Signature inference and enforcement (no store needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.registry.signature import (
    Signature,
    example_from_json,
    example_to_json,
    infer_signature,
    to_signature,
)


@pytest.fixture
def frame():
    return pd.DataFrame({"age": [31, 45], "income": [1.5, 2.5], "city": ["a", "b"],
                         "member": [True, False],
                         "seen": pd.to_datetime(["2024-01-01", "2024-02-01"]),
                         "tier": pd.Categorical(["x", "y"])})


def test_infer_from_a_dataframe(frame):
    sig = infer_signature(frame)
    assert sig.type == "dataframe"
    assert [(c.name, c.kind) for c in sig.columns] == [
        ("age", "integer"), ("income", "float"), ("city", "string"), ("member", "boolean"),
        ("seen", "datetime"), ("tier", "category")]
    assert Signature.from_dict(sig.to_dict()) == sig


def test_infer_from_dicts_and_records():
    sig = infer_signature({"a": [1.0], "b": ["x"]})
    assert [(c.name, c.kind) for c in sig.columns] == [("a", "float"), ("b", "string")]
    assert sig.describe()[0] == ("a", "float64")
    assert [c.name for c in infer_signature([{"a": 1, "b": 2}]).columns] == ["a", "b"]
    assert [c.kind for c in infer_signature({"a": 1, "b": "x"}).columns] == ["integer",
                                                                             "string"]


def test_infer_from_an_array():
    sig = infer_signature(np.zeros((4, 3), dtype=np.float32))
    assert (sig.type, sig.kind, sig.dtype, sig.shape) == ("ndarray", "float", "float32", (3,))
    assert Signature.from_dict(sig.to_dict()) == sig


def test_missing_column_is_named(frame):
    sig = infer_signature(frame)
    with pytest.raises(InvalidInputError, match="missing column.*'income'"):
        sig.enforce(frame.drop(columns=["income"]))


@pytest.mark.parametrize("column,value,kind", [
    ("income", ["a", "b"], "string"), ("age", [1.5, 2.0], "float"),
    ("member", [1, 0], "integer"), ("seen", ["2024", "2025"], "string")])
def test_wrong_kind_is_named(frame, column, value, kind):
    sig = infer_signature(frame)
    with pytest.raises(InvalidInputError, match=rf"'{column}' should be .* but is {kind}"):
        sig.enforce(frame.assign(**{column: value}))


def test_safe_widening_reorder_and_extras(frame):
    sig = infer_signature(frame)
    given = frame.assign(income=[1, 2], extra=[0, 0])[list(reversed(frame.columns)) + ["extra"]]
    out = sig.enforce(given)
    assert list(out.columns) == list(frame.columns)
    assert sig.enforce(frame) is frame  # already right: no copy


def test_array_signatures_check_shape_and_kind():
    sig = infer_signature(np.zeros((2, 3)))
    assert sig.enforce(np.ones((5, 3), dtype=int)).shape == (5, 3)
    with pytest.raises(InvalidInputError, match=r"shaped \(batch, 3\); got shape \(5, 4\)"):
        sig.enforce(np.ones((5, 4)))
    with pytest.raises(InvalidInputError, match="expects float"):
        sig.enforce(np.array([["a", "b", "c"]]))


def test_a_frame_signature_accepts_a_matching_2d_array(frame):
    sig = infer_signature(frame[["income"]].assign(score=0.5))
    out = sig.enforce(np.array([[1.0, 2.0]]))
    assert list(out.columns) == ["income", "score"]
    with pytest.raises(InvalidInputError, match="expects a table"):
        sig.enforce(np.array([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("bad", [{"type": "table"}, {"type": "dataframe", "columns": [
    {"name": "a", "kind": "complex"}]}, {"type": "ndarray"}])
def test_malformed_signature_dicts(bad):
    with pytest.raises(InvalidInputError, match="Not a model signature"):
        to_signature(bad)


def test_uninferable_input():
    with pytest.raises(InvalidInputError, match="Cannot infer"):
        infer_signature(42)


def test_examples_round_trip_and_stay_json_safe(frame):
    import json

    stored = example_to_json(frame.head(1).assign(income=[float("nan")]))
    json.dumps(stored, allow_nan=False)
    back = example_from_json(stored)
    assert list(back.columns) == list(frame.columns) and back["income"].isna().all()
    arr = example_to_json(np.array([[1.0, np.inf]]))
    assert arr["data"] == [[1.0, None]]
    assert example_from_json(None) is None
    with pytest.raises(InvalidInputError):
        example_to_json(object())
