"""Drift measures against hand-computed values and SciPy; verdicts on shifted data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from jupyter_mlops.monitoring.drift import (
    chi2_homogeneity,
    compute_drift,
    js_distance,
    ks_pvalues,
    ks_statistic,
    psi,
)
from jupyter_mlops.monitoring.profile import ReferenceProfile, numeric_edges

from .conftest import make_frame


# ----------------------------------------------------------------------------- by hand
def test_psi_by_hand():
    # (0.25-0.5)·ln(0.25/0.5) + (0.75-0.5)·ln(0.75/0.5)
    expected = 0.25 * math.log(2) + 0.25 * math.log(1.5)
    assert psi(np.array([0.5, 0.5]), np.array([0.25, 0.75])) == pytest.approx(expected)
    assert psi(np.array([0.2, 0.8]), np.array([0.2, 0.8])) == 0.0
    # An empty bin counts as 1e-4, not as log(0).
    assert psi(np.array([0.5, 0.5]), np.array([1.0, 0.0])) == pytest.approx(
        0.5 * math.log(2) + (1e-4 - 0.5) * math.log(1e-4 / 0.5))


def test_ks_by_hand():
    ref = np.array([1.0, 2.0, 3.0, 4.0])
    assert ks_statistic(ref, np.array([3.0, 4.0, 5.0, 6.0])) == pytest.approx(0.5)
    assert ks_statistic(ref, ref.copy()) == 0.0
    assert ks_statistic(ref, np.array([10.0, 11.0])) == pytest.approx(1.0)
    assert ks_statistic(np.array([5.0, 6.0]), np.array([1.0])) == pytest.approx(1.0)


def test_js_and_chi2_by_hand():
    # Disjoint distributions: JS distance = sqrt(ln 2) with natural logarithms.
    assert js_distance(np.array([5.0, 0.0]), np.array([0.0, 7.0])) == pytest.approx(
        math.sqrt(math.log(2)))
    assert js_distance(np.array([1.0, 3.0]), np.array([2.0, 6.0])) == pytest.approx(0.0)
    # 2x2 table [[10, 10], [20, 0]]: expected [[15, 5], [15, 5]] → χ² = 25/15·2 + 25/5·2.
    stat, p = chi2_homogeneity(np.array([10, 10]), np.array([20, 0]))
    assert stat == pytest.approx(25 / 15 * 2 + 25 / 5 * 2)
    assert p == pytest.approx(stats.chi2.sf(stat, 1))


# ----------------------------------------------------------------------------- vs scipy
@pytest.mark.parametrize("n,m,decimals,method", [
    (40, 55, 1, "exact"), (900, 700, None, "exact"), (20_000, 12_000, 2, "asymp"),
    (15_000, 300, None, "asymp"), (5_000, 1_000, None, "asymp")])
def test_ks_matches_scipy(n, m, decimals, method):
    rng = np.random.default_rng(n + m)
    a, b = rng.normal(size=n), rng.normal(0.15, 1.1, size=m)
    if decimals is not None:  # many ties, inside and across the samples
        a, b = np.round(a, decimals), np.round(b, decimals)
    expected = stats.ks_2samp(a, b, method=method)
    d = ks_statistic(np.sort(a), np.sort(b))
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    p = ks_pvalues(np.array([d]), np.array([n]), np.array([m]), [(np.sort(a), np.sort(b))])[0]
    assert p == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-12)


def test_chi2_and_js_match_scipy():
    ref = np.array([120, 80, 40, 0, 10])
    cur = np.array([30, 45, 20, 5, 0])
    stat, p = chi2_homogeneity(ref, cur)
    keep = (ref + cur) > 0
    expected = stats.chi2_contingency(np.vstack([ref, cur])[:, keep], correction=False)
    assert stat == pytest.approx(expected.statistic)
    assert p == pytest.approx(expected.pvalue)
    assert js_distance(ref.astype(float), cur.astype(float)) == pytest.approx(
        distance.jensenshannon(ref / ref.sum(), cur / cur.sum()))


def test_report_measures_match_scipy_per_column():
    ref, cur = make_frame(5000, seed=3), make_frame(4000, seed=4, shift=0.3)
    report = compute_drift(ReferenceProfile.from_frame(ref), cur)
    for col in ("a", "b", "c"):
        expected = stats.ks_2samp(ref[col], cur[col], method="asymp")
        got = report.column(col).measures
        assert got["ks"] == pytest.approx(expected.statistic, abs=1e-12)
        assert got["ks_pvalue"] == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)
        # PSI on the reference's deciles, recomputed independently.
        edges = numeric_edges(np.sort(ref[col].to_numpy()))
        bounds = np.concatenate(([-np.inf], edges, [np.inf]))  # bins (lo, hi]
        r = np.array([((ref[col] > lo) & (ref[col] <= hi)).sum()
                      for lo, hi in zip(bounds, bounds[1:])])
        c = np.array([((cur[col] > lo) & (cur[col] <= hi)).sum()
                      for lo, hi in zip(bounds, bounds[1:])])
        assert got["psi"] == pytest.approx(psi(r / r.sum(), c / c.sum()), rel=1e-9)
    city = report.column("city").measures
    cats = ["paris", "lyon", "nice"]
    rc = ref["city"].value_counts().reindex(cats).to_numpy()
    cc = cur["city"].value_counts().reindex(cats).to_numpy()
    assert city["chi2_pvalue"] == pytest.approx(
        stats.chi2_contingency(np.vstack([rc, cc]), correction=False).pvalue)
    assert city["js"] == pytest.approx(distance.jensenshannon(rc / rc.sum(), cc / cc.sum()))


# ----------------------------------------------------------------------------- verdicts
def test_shifted_feature_flagged_unshifted_not():
    profile = ReferenceProfile.from_frame(make_frame(5000, seed=1))
    report = compute_drift(profile, make_frame(2000, seed=2, shift=0.8))
    assert report.drifted == ["a"]
    assert report.column("a").measures["psi"] > 0.2
    assert report.column("b").measures["ks_pvalue"] > 0.01
    same = compute_drift(profile, make_frame(2000, seed=5))
    assert same.drifted == []


def test_categorical_shift_flagged():
    profile = ReferenceProfile.from_frame(make_frame(5000, seed=1))
    report = compute_drift(profile, make_frame(2000, seed=2, city_p=(0.1, 0.2, 0.7)))
    assert report.drifted == ["city"]


def test_small_noisy_window_is_not_flagged_but_a_large_trivial_shift_neither():
    profile = ReferenceProfile.from_frame(make_frame(50_000, seed=1))
    # 30 rows: PSI on deciles is noisy, but KS is not significant.
    assert compute_drift(profile, make_frame(30, seed=9)).drifted == []
    # 50,000 rows shifted by 0.03 sd: KS is significant, PSI is negligible.
    tiny = compute_drift(profile, make_frame(50_000, seed=9, shift=0.03))
    assert tiny.column("a").measures["ks_pvalue"] < 0.05
    assert tiny.drifted == []


def test_schema_and_missing_values():
    profile = ReferenceProfile.from_frame(make_frame(2000, seed=1))
    cur = make_frame(1000, seed=2).drop(columns=["c"])
    cur["extra"] = 1.0
    cur["b"] = cur["b"].astype(str)  # numbers arrive as text
    cur.loc[:300, "a"] = np.nan
    report = compute_drift(profile, cur)
    assert report.schema.missing_columns == ["c"]
    assert report.schema.new_columns == ["extra"]
    assert report.schema.type_changes == {"b": ("float", "string")}
    a = report.column("a")
    assert a.missing_share == pytest.approx(301 / 1000)
    assert a.missing_drifted and not a.drifted
    results = {(f, m): (v, d) for f, m, v, d in report.results()}
    assert results[("", "schema_issues")] == (3.0, True)
    assert results[("c", "schema_missing")][1] is True


def test_integer_columns_widen_to_float_without_a_type_change():
    ref = pd.DataFrame({"x": np.arange(1000, dtype=np.int64) % 97})
    cur = pd.DataFrame({"x": (np.arange(500) % 97).astype(float)})
    report = compute_drift(ReferenceProfile.from_frame(ref), cur)
    assert report.schema.issues == 0 and report.drifted == []


def test_prediction_drift():
    ref = make_frame(3000, seed=1)
    profile = ReferenceProfile.from_frame(ref, predictions=(ref["a"] > 0).astype(int))
    cur = make_frame(1000, seed=2)
    steady = compute_drift(profile, cur, predictions=(cur["a"] > 0).astype(int))
    assert steady.prediction is not None and not steady.prediction.drifted
    moved = compute_drift(profile, cur, predictions=(cur["a"] > -1).astype(int))
    assert moved.prediction.drifted


def test_profile_round_trip_and_threads_agree():
    ref = make_frame(20_000, seed=1)
    profile = ReferenceProfile.from_frame(ref, predictions=ref["a"] * 2.0)
    again = ReferenceProfile.from_bytes(profile.to_bytes())
    assert list(again.columns) == list(profile.columns)
    assert np.array_equal(again.columns["a"].sorted_values, profile.columns["a"].sorted_values)
    assert again.columns["city"].categories == profile.columns["city"].categories
    assert again.prediction.kind == "numeric"
    cur = make_frame(20_000, seed=2, shift=0.2)
    one = compute_drift(again, cur, workers=1).to_frame()
    many = compute_drift(profile, cur, workers=4).to_frame()
    pd.testing.assert_frame_equal(one, many)


def test_thresholds_are_validated():
    profile = ReferenceProfile.from_frame(make_frame(100, seed=1))
    from jupyter_mlops.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="Unknown drift threshold"):
        compute_drift(profile, make_frame(100, seed=2), thresholds={"pis": 0.1})
