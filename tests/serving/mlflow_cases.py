"""The request cases of the MLflow scoring-protocol tests, and the model they are sent to.

Importable by a Python that has MLflow but not this package (the side-by-side test saves the
same model as an MLflow model there), so it needs only NumPy, pandas and scikit-learn.

The model: ``age`` (int64), ``income`` (float64), ``plan`` (string) → a class, a one-hot
encoder and a logistic regression trained on a fixed sample, so both servers hold the same
fitted model. Each case is ``(id, method, path, content_type, body)``; the body is bytes.
"""

from __future__ import annotations

import json

COLUMNS = ["age", "income", "plan"]
ROW = [42, 50000.5, "basic"]
ROW2 = [23, 1200.0, "pro"]


def training_frame():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    n = 400
    age = rng.integers(18, 80, n).astype("int64")
    income = rng.normal(40000, 15000, n).round(2)
    plan = rng.choice(["basic", "pro", "team"], n)
    y = ((age > 45) ^ (plan == "pro")).astype(int)
    return pd.DataFrame({"age": age, "income": income, "plan": plan}), y


def build_model():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = training_frame()
    pre = ColumnTransformer([("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
                             ("num", StandardScaler(), ["age", "income"])])
    return Pipeline([("pre", pre), ("clf", LogisticRegression())]).fit(X, y), X.head(5)


def _j(obj) -> bytes:
    return json.dumps(obj).encode()


JSON = "application/json"
CSV = "text/csv"
_R = dict(zip(COLUMNS, ROW))
_R2 = dict(zip(COLUMNS, ROW2))

#: (id, method, path, content type or None, body)
CASES = [
    # dataframe_split
    ("split", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": COLUMNS, "data": [ROW, ROW2]}})),
    ("split-reordered", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": ["plan", "age", "income"], "data": [["basic", 42, 50000.5]]}})),
    ("split-index", "POST", "/invocations", JSON, _j({"dataframe_split": {"index": [5, 6], "columns": COLUMNS, "data": [ROW, ROW2]}})),
    ("split-extra-column", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": [*COLUMNS, "x"], "data": [[*ROW, 1]]}})),
    ("split-missing-column", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": ["age", "income"], "data": [[42, 1.0]]}})),
    ("split-duplicate-columns", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": ["age", "age", "income", "plan"], "data": [[42, 99, 1.0, "pro"]]}})),
    ("split-no-columns", "POST", "/invocations", JSON, _j({"dataframe_split": {"data": [ROW]}})),
    ("split-data-not-list", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": COLUMNS, "data": 5}})),
    ("split-ragged", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": COLUMNS, "data": [ROW, [1, 2.0]]}})),
    ("split-empty-data", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": COLUMNS, "data": []}})),
    ("split-columns-not-list", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": "age", "data": [ROW]}})),
    ("split-not-object", "POST", "/invocations", JSON, _j({"dataframe_split": [ROW]})),
    ("split-null", "POST", "/invocations", JSON, _j({"dataframe_split": None})),
    ("split-int-as-30.0", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": COLUMNS, "data": [[30.0, 1.0, "pro"]]}})),
    ("split-int-as-30.5", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": COLUMNS, "data": [[30.5, 1.0, "pro"]]}})),
    ("split-int-as-string", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": COLUMNS, "data": [["42", 1.0, "pro"]]}})),
    ("split-int-null", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": COLUMNS, "data": [[None, 1.0, "pro"]]}})),
    ("split-int-bool", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": COLUMNS, "data": [[True, 1.0, "pro"]]}})),
    ("split-float-as-int", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": COLUMNS, "data": [[42, 50000, "pro"]]}})),
    ("split-float-null", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": COLUMNS, "data": [[42, None, "pro"]]}})),
    ("split-float-as-string", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": COLUMNS, "data": [[42, "1.5", "pro"]]}})),
    ("split-string-as-number", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": COLUMNS, "data": [[42, 1.0, 7]]}})),
    ("split-string-null", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": COLUMNS, "data": [[42, 1.0, None]]}})),
    ("split-unseen-category", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": COLUMNS, "data": [[42, 1.0, "enterprise"]]}})),
    ("split-nan-literal", "POST", "/invocations", JSON, b'{"dataframe_split": {"columns": ["age", "income", "plan"], "data": [[42, NaN, "pro"]]}}'),
    ("split-many-rows", "POST", "/invocations", JSON, _j({"dataframe_split": {"columns": COLUMNS, "data": [[18 + i % 60, 1000.0 * i, ["basic", "pro", "team"][i % 3]] for i in range(50)]}})),
    # dataframe_records
    ("records", "POST", "/invocations", JSON, _j({"dataframe_records": [_R, _R2]})),
    ("records-reordered", "POST", "/invocations", JSON, _j({"dataframe_records": [{"plan": "pro", "income": 3.5, "age": 60}]})),
    ("records-missing-key", "POST", "/invocations", JSON, _j({"dataframe_records": [{"age": 42, "income": 1.0}]})),
    ("records-extra-key", "POST", "/invocations", JSON, _j({"dataframe_records": [{**_R, "x": 1}]})),
    ("records-empty", "POST", "/invocations", JSON, _j({"dataframe_records": []})),
    ("records-dict", "POST", "/invocations", JSON, _j({"dataframe_records": _R})),
    ("records-int-as-30.0", "POST", "/invocations", JSON, _j({"dataframe_records": [{"age": 30.0, "income": 1.0, "plan": "pro"}]})),
    ("records-int-as-string", "POST", "/invocations", JSON, _j({"dataframe_records": [{"age": "x", "income": 1.0, "plan": "pro"}]})),
    ("records-uneven-keys", "POST", "/invocations", JSON, _j({"dataframe_records": [_R, {"age": 1, "plan": "pro"}]})),
    ("records-not-objects", "POST", "/invocations", JSON, _j({"dataframe_records": [ROW]})),
    # instances
    ("instances-records", "POST", "/invocations", JSON, _j({"instances": [_R, _R2]})),
    ("instances-columns", "POST", "/invocations", JSON, _j({"instances": {"age": [42, 23], "income": [50000.5, 1200.0], "plan": ["basic", "pro"]}})),
    ("instances-lists", "POST", "/invocations", JSON, _j({"instances": [ROW, ROW2]})),
    ("instances-empty", "POST", "/invocations", JSON, _j({"instances": []})),
    ("instances-missing-column", "POST", "/invocations", JSON, _j({"instances": [{"age": 42, "income": 1.0}]})),
    ("instances-int-as-30.0", "POST", "/invocations", JSON, _j({"instances": [{"age": 30.0, "income": 1.0, "plan": "pro"}]})),
    ("instances-scalar", "POST", "/invocations", JSON, _j({"instances": 5})),
    # inputs
    ("inputs-columns", "POST", "/invocations", JSON, _j({"inputs": {"age": [42, 23], "income": [50000.5, 1200.0], "plan": ["basic", "pro"]}})),
    ("inputs-scalars", "POST", "/invocations", JSON, _j({"inputs": _R})),
    ("inputs-records", "POST", "/invocations", JSON, _j({"inputs": [_R, _R2]})),
    ("inputs-lists", "POST", "/invocations", JSON, _j({"inputs": [ROW, ROW2]})),
    ("inputs-uneven-columns", "POST", "/invocations", JSON, _j({"inputs": {"age": [42, 23], "income": [1.0], "plan": ["pro", "pro"]}})),
    ("inputs-missing-column", "POST", "/invocations", JSON, _j({"inputs": {"age": [42], "income": [1.0]}})),
    ("inputs-int-as-30.0", "POST", "/invocations", JSON, _j({"inputs": {"age": [30.0], "income": [1.0], "plan": ["pro"]}})),
    ("inputs-empty-object", "POST", "/invocations", JSON, _j({"inputs": {}})),
    # the envelope
    ("two-formats", "POST", "/invocations", JSON, _j({"dataframe_records": [_R], "instances": [_R]})),
    ("no-format", "POST", "/invocations", JSON, _j({"data": [ROW]})),
    ("extra-top-level-key", "POST", "/invocations", JSON, _j({"dataframe_records": [_R], "extra": 1})),
    ("params-empty", "POST", "/invocations", JSON, _j({"dataframe_records": [_R], "params": {}})),
    ("params-value", "POST", "/invocations", JSON, _j({"dataframe_records": [_R], "params": {"k": 1}})),
    ("top-level-list", "POST", "/invocations", JSON, _j([_R])),
    ("top-level-string", "POST", "/invocations", JSON, _j("hello")),
    ("malformed-json", "POST", "/invocations", JSON, b'{"dataframe_records": [{'),
    ("empty-body", "POST", "/invocations", JSON, b""),
    ("not-utf8", "POST", "/invocations", JSON, b'{"dataframe_records": [{"age": 1, "income": 1.0, "plan": "\xff"}]}'),
    # content types
    ("json-charset-utf8", "POST", "/invocations", "application/json; charset=utf-8", _j({"dataframe_records": [_R]})),
    ("json-charset-latin1", "POST", "/invocations", "application/json; charset=latin-1", _j({"dataframe_records": [_R]})),
    ("json-unknown-parameter", "POST", "/invocations", "application/json; format=pandas-split", _j({"dataframe_records": [_R]})),
    ("text-plain", "POST", "/invocations", "text/plain", _j({"dataframe_records": [_R]})),
    ("form-urlencoded", "POST", "/invocations", "application/x-www-form-urlencoded", b"age=1"),
    # CSV
    ("csv", "POST", "/invocations", CSV, b"age,income,plan\n42,50000.5,basic\n23,1200.0,pro\n"),
    ("csv-charset-utf8", "POST", "/invocations", "text/csv; charset=utf-8", b"age,income,plan\n42,50000.5,basic\n"),
    ("csv-reordered", "POST", "/invocations", CSV, b"plan,age,income\nbasic,42,50000.5\n"),
    ("csv-pandas-index", "POST", "/invocations", CSV, b",age,income,plan\n0,42,50000.5,basic\n"),
    ("csv-extra-column", "POST", "/invocations", CSV, b"age,income,plan,x\n42,50000.5,basic,9\n"),
    ("csv-missing-column", "POST", "/invocations", CSV, b"age,income\n42,50000.5\n"),
    ("csv-int-as-30.0", "POST", "/invocations", CSV, b"age,income,plan\n30.0,1.0,pro\n"),
    ("csv-int-as-text", "POST", "/invocations", CSV, b"age,income,plan\nold,1.0,pro\n"),
    ("csv-empty", "POST", "/invocations", CSV, b""),
    ("csv-header-only", "POST", "/invocations", CSV, b"age,income,plan\n"),
    ("csv-quoted", "POST", "/invocations", CSV, b'age,income,plan\n42,"50000.5","basic"\n'),
    # side routes
    ("ping", "GET", "/ping", None, b""),
    ("health", "GET", "/health", None, b""),
    ("version", "GET", "/version", None, b""),
]


def ask(url: str, case) -> dict:
    """Send one case over HTTP; the answer as ``{"status", "error_code"?, "predictions"?,
    "text"?}`` (``text`` for bodies that are not a JSON object)."""
    import urllib.error
    import urllib.request

    _, method, path, content_type, body = case
    headers = {"Content-Type": content_type} if content_type else {}
    req = urllib.request.Request(url + path, data=body if method == "POST" else None,
                                 method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    out: dict = {"status": status}
    try:
        obj = json.loads(raw)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and ("predictions" in obj or "error_code" in obj):
        if "predictions" in obj:
            out["predictions"] = obj["predictions"]
        if "error_code" in obj:
            out["error_code"] = obj["error_code"]
    else:
        out["text"] = raw.decode("utf-8", "replace")
    return out


if __name__ == "__main__":  # python mlflow_cases.py save DIR: the model as an MLflow model
    import sys

    import mlflow.sklearn

    model, example = build_model()
    # The requirements named outright: MLflow would otherwise infer them by loading the model
    # in a Python of its own (a second MLflow import, most of the save's time), for an
    # environment `--env-manager local` never builds. They are MLflow's fallback list anyway.
    mlflow.sklearn.save_model(model, sys.argv[2], input_example=example,
                              pip_requirements=mlflow.sklearn.get_default_pip_requirements())
