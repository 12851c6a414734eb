"""Request parsing and the numeric fast path, without a server."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jupyter_mlops.serving.inputs import InputError, numeric_matrix, parse_body

COLS, KINDS = ["a", "b", "n"], ["float", "float", "integer"]
EXPECTED = np.array([[1.0, 2.0, 3.0], [4.0, 5.5, 6.0]])


@pytest.mark.parametrize("body", [
    {"dataframe_split": {"columns": ["a", "b", "n"], "data": [[1, 2.0, 3], [4, 5.5, 6]]}},
    {"dataframe_split": {"columns": ["n", "b", "a", "x"], "data": [[3, 2.0, 1, "z"],
                                                                    [6, 5.5, 4, "z"]]}},
    {"dataframe_split": {"data": [[1, 2.0, 3], [4, 5.5, 6]]}},
    {"dataframe_records": [{"b": 2.0, "a": 1, "n": 3}, {"a": 4, "b": 5.5, "n": 6}]},
    {"instances": [[1, 2.0, 3], [4, 5.5, 6]]},
    {"instances": [{"a": 1, "b": 2.0, "n": 3}, {"a": 4, "b": 5.5, "n": 6}]},
    {"inputs": {"a": [1, 4], "b": [2.0, 5.5], "n": [3, 6]}},
    {"inputs": [[1, 2.0, 3], [4, 5.5, 6]]},
])
def test_every_shape_gives_the_same_matrix(body):
    parsed = parse_body(json.dumps(body).encode())
    assert np.array_equal(numeric_matrix(parsed, COLS, KINDS), EXPECTED)


def test_ids_and_single_row_inputs():
    parsed = parse_body(b'{"inputs": {"a": 1, "b": 2, "n": 3}, "ids": ["x"]}')
    assert parsed.ids == ["x"]
    assert numeric_matrix(parsed, COLS, KINDS).tolist() == [[1.0, 2.0, 3.0]]


@pytest.mark.parametrize("raw,message", [
    (b"{", "Malformed JSON"),
    (b"\xff\xfe", "not UTF-8|Malformed"),
    (b"[1, 2]", "Expected a JSON object"),
    (b'{"instances": [[1]], "inputs": [[1]]}', "exactly one"),
    (b'{"rows": [[1]]}', "exactly one"),
    (b'{"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}', "Row 0 must be"),
    (b'{"dataframe_split": [[1]]}', '"dataframe_split" must be'),
    (b'{"dataframe_records": []}', "non-empty list"),
    (b'{"instances": []}', "non-empty"),
    (b'{"instances": [[1,2,3]], "ids": [true]}', '"ids" must be'),
])
def test_malformed_bodies(raw, message):
    with pytest.raises(InputError, match=message) as info:
        parse_body(raw)
    assert info.value.status == 400


@pytest.mark.parametrize("body,message", [
    ({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}, "missing column.*'n'"),
    ({"dataframe_records": [{"a": 1, "b": 2, "n": 3}, {"a": 1, "n": 3}]},
     "missing column.*'b'.*record 1"),
    ({"inputs": {"a": [1], "b": [2]}}, "missing column.*'n'"),
    ({"instances": [[1, "2", 3]]}, "'b' should be float but got a string"),
    ({"instances": [[1, True, 3]]}, "'b' should be float but got a boolean"),
    ({"instances": [[1, 2, 3.5]]}, "'n' should be integer"),
    ({"instances": [[1, 2, None]]}, "'n' should be integer"),
    ({"instances": [[1, 2]]}, "3 values"),
    ({"instances": [[1, [2], 3]]}, "wrong type|could not"),
    ({"inputs": {"a": [1, 2], "b": [2], "n": [3]}}, "same number"),
])
def test_signature_mismatches(body, message):
    parsed = parse_body(json.dumps(body).encode())
    with pytest.raises(InputError, match=message) as info:
        numeric_matrix(parsed, COLS, KINDS)
    assert info.value.status == 400


def test_null_becomes_nan_for_float_columns():
    parsed = parse_body(b'{"instances": [[null, 2, 3]]}')
    assert np.isnan(numeric_matrix(parsed, COLS, KINDS)[0, 0])
