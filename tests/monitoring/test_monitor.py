"""Monitors end to end on the store: windows by count and time, feedback joined by id,
results as time series, references from logged datasets, raw rows as Parquet."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.monitoring.monitor import get_monitor, monitor
from jupyter_mlops.monitoring.windows import parse_window

from .conftest import FEATURES, make_frame, truth


def test_windows_by_count_store_time_series(client, registered, reference, model):
    mon = monitor("clf@champion", reference=reference, window=1000, client=client)
    assert mon.name == "clf@champion" and mon.profile.prediction is not None
    cur = make_frame(2500, seed=2, shift=1.0)
    closed = mon.log_predictions(cur, model.predict(cur[FEATURES]))
    assert [w.rows for w in closed] == [1000, 1000]
    assert all(w.model_version == registered.version for w in closed)
    assert closed[0].columns_drifted >= 1
    last = mon.flush()
    assert last.seq == 3 and last.rows == 500
    psi_a = mon.results("psi", "a")
    assert list(psi_a["window"]) == [1, 2, 3] and (psi_a["value"] > 0.2).all()
    drift_b = mon.results("drift", "b")
    assert list(drift_b["drifted"]) == [False, False, False]
    # Reopened elsewhere: same monitor, same series, profile read from its blob.
    again = get_monitor("clf@champion", client=client)
    assert [w.seq for w in again.windows()] == [1, 2, 3]
    assert again.profile.columns["a"].sorted_values.shape == (len(reference),)


def test_windows_by_time(client, registered, reference):
    mon = monitor("clf@champion", reference=reference, window="1h", client=client)
    assert mon.window == {"seconds": 3600.0}
    cur = make_frame(300, seed=2)
    t0 = 1_800_000_000.0 - (1_800_000_000.0 % 3600)
    ts = np.concatenate([np.full(100, t0 + 10), np.full(100, t0 + 3700), np.full(100, t0 + 7300)])
    closed = mon.log_predictions(cur, timestamp=ts)
    assert [w.rows for w in closed] == [100, 100]
    # A late row (an hour that has closed) joins the open window; tick() closes it later.
    assert mon.log_predictions(cur.iloc[:1], timestamp=t0 + 20) == []
    assert mon.tick(now=t0 + 7300 + 10) == []
    (third,) = mon.tick(now=t0 + 3 * 3600 + 1)
    assert third.rows == 101 and third.seq == 3


def test_feedback_joined_by_id(client, registered, reference, model):
    mon = monitor("clf@champion", reference=reference, window=400, client=client)
    cur = make_frame(1000, seed=7)
    preds = model.predict(cur[FEATURES])
    ids = [f"req-{i}" for i in range(1000)]
    # Ground truth for some rows arrives *before* their window closes.
    early = list(range(900, 1000))
    mon.log_feedback([ids[i] for i in early], truth(cur)[early])
    mon.log_predictions(cur, preds, ids=ids)  # windows 1, 2 closed; 200 rows open
    mon.flush()  # window 3 (rows 800-999), already has 100 labels
    # Labels for window 1 arrive shuffled, with unknown ids mixed in; some flipped.
    rng = np.random.default_rng(0)
    order = rng.permutation(400)
    y = truth(cur)[order].copy()
    y[:40] = 1 - y[:40]
    updated = mon.log_feedback([ids[i] for i in order] + ["nope-1", "nope-2"],
                               np.concatenate([y, [0, 1]]))
    assert set(updated) == {1}
    expected = float(np.mean(preds[order] == y))
    assert updated[1]["accuracy"] == pytest.approx(expected)
    assert updated[1]["labelled"] == 400
    tp = np.sum((preds[order] == 1) & (y == 1))
    f1 = 2 * tp / (2 * tp + np.sum((preds[order] == 1) & (y == 0))
                   + np.sum((preds[order] == 0) & (y == 1)))
    assert updated[1]["f1"] == pytest.approx(f1)
    acc = mon.results("accuracy")
    assert dict(zip(acc["window"], acc["value"])) == pytest.approx(
        {1: expected, 3: float(np.mean(preds[900:] == truth(cur)[900:]))})
    assert mon.store.record_counts(mon.id) == (1000, 500)


def test_regression_quality(client, registered, reference):
    mon = monitor("clf@champion", reference=reference, window=50, task="regression",
                  client=client)
    cur = make_frame(50, seed=3)
    pred = np.linspace(0, 1, 50)
    mon.log_predictions(cur, pred, ids=range(50))
    actual = pred + np.where(np.arange(50) % 2, 0.5, -0.5)
    q = mon.log_feedback(range(50), actual)[1]
    assert q["mae"] == pytest.approx(0.5) and q["rmse"] == pytest.approx(0.5)


def test_reference_from_logged_dataset_is_profiled_once(client, registered, reference,
                                                         tmp_path):
    path = tmp_path / "ref.csv"
    reference.to_csv(path, index=False)
    record = client.log_dataset(None, str(path), "churn-ref")
    mon = monitor("clf@champion", reference="churn-ref", client=client)
    assert mon.info.reference_dataset_id == record.id
    assert mon.info.reference_digest == record.digest
    # A second monitor on the same data reuses the stored profile (same blob).
    other = monitor("clf@champion", reference=f"churn-ref:{record.version}", name="other",
                    client=client)
    assert other.info.profile_digest == mon.info.profile_digest
    # The file changed after it was logged: refuse rather than profile the wrong data.
    reference.head(10).to_csv(path, index=False)
    with pytest.raises(InvalidInputError, match="changed since"):
        monitor("clf@champion", reference="churn-ref", name="third", categorical=["a"],
                client=client)


def test_keep_rows_as_parquet_and_prediction_drift(client, registered, reference, model):
    mon = monitor("clf@champion", reference=reference, window=500, keep_rows=True,
                  client=client)
    cur = make_frame(500, seed=4)
    window = mon.log_predictions(cur, np.ones(500, dtype=int), ids=range(500))[0]
    rows = pd.read_parquet(io.BytesIO(client.store.blobs.get_bytes(window.data_digest)))
    assert len(rows) == 500 and {"@prediction", "@id", "@ts", "a"} <= set(rows.columns)
    pred = mon.results("drift", "@prediction")
    assert list(pred["drifted"]) == [True]  # everything predicted 1


def test_input_checks(client, registered, reference):
    mon = monitor("clf@champion", reference=reference, client=client)
    with pytest.raises(InvalidInputError, match="one value per row"):
        mon.log_predictions(reference.head(3), [1, 0])
    with pytest.raises(InvalidInputError, match="one entry per row"):
        mon.log_predictions(reference.head(3), ids=["a"])
    with pytest.raises(NotFoundError, match="give reference"):
        monitor("clf@champion", name="never-made", client=client)
    with pytest.raises(InvalidInputError):
        parse_window("soon")
    assert parse_window("500") == {"rows": 500} and parse_window("30m") == {"seconds": 1800}
    # A 2-D array is read in the reference's column order.
    mon.log_predictions(reference.head(5)[list(mon.profile.columns)].to_numpy())
    assert mon._buffered == 5
    assert mon.evaluate(make_frame(500, seed=2, shift=2)).drifted == ["a"]
