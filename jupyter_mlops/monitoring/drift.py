"""Data drift: PSI and Kolmogorov–Smirnov for numeric columns, chi-squared and Jensen–Shannon
distance for categorical ones, against a :class:`~.profile.ReferenceProfile` built once.

Why it is fast: the reference is sorted once when it is profiled, so each window costs one
sort of the *current* values per column plus a binary search of them into the reference (the
two-sample KS statistic is read off the two empirical CDFs at the current points; see
:func:`ks_statistic`), and PSI's bin counts are a dozen binary searches into the sorted current
values. Columns are processed in a small thread pool (NumPy's sort and search release the
GIL); p-values are computed for all columns in one vectorised call.

Verdicts. A numeric column has drifted when the KS test is significant (p < ``ks_pvalue``)
*and* the shift is large enough to matter (PSI ≥ ``psi``); a categorical one when the
chi-squared test is significant (p < ``chi2_pvalue``) *and* the Jensen–Shannon distance is at
least ``js``. The significance condition keeps small, noisy windows from raising false alarms;
the size condition keeps very large windows from flagging differences too small to matter
(with 100,000 rows KS is significant for a shift of a hundredth of a standard deviation).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.monitoring.profile import (
    PREDICTION,
    ColumnProfile,
    ReferenceProfile,
    bin_counts,
    label_strings,
    prediction_is_label,
    series_kind,
)

DEFAULT_THRESHOLDS: dict[str, float] = {
    "ks_pvalue": 0.05,  # numeric: significance …
    "psi": 0.1,  # … and size
    "chi2_pvalue": 0.05,  # categorical: significance …
    "js": 0.1,  # … and size (Jensen–Shannon distance, natural log)
    "missing_increase": 0.05,  # missing share above the reference's by this much
}
#: Zero shares are replaced by this before taking logs in PSI (as Evidently does).
PSI_EPS = 1e-4
#: Exact KS p-values (SciPy's exact method) while ``n·m`` is at most this; Smirnov's
#: asymptotic distribution above. (SciPy's ``method="auto"`` switches when max(n, m) passes
#: 10,000; its exact method costs O(n·m), ≈ 2 ms for 5,000 × 1,000, and the asymptotic value is
#: already within a fraction of a percent there.)
KS_EXACT_MAX_CELLS = 1_000_000
#: How many current categories a window keeps for the report.
TOP_CATEGORIES = 20
#: Compatible kinds: a column whose kind changes within a group is not a type change.
_KIND_GROUPS = ({"integer", "float"}, {"string", "category"})


# ============================================================================ measures
def ks_statistic(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic of two ascending, NaN-free samples.

    ``sup |F_ref − F_cur|`` is attained at a current point or just before one, so it only
    needs where each current value falls in the reference: ``r_i`` = reference values ≤ c_i
    and ``l_i`` = reference values < c_i. Then
    ``D⁺ = max_i ((i+1)/m − r_i/n)`` and ``D⁻ = max_i (l_i/n − i/m)`` (for tied current
    values the first/last occurrence gives the exact term, the others a lower bound).
    """
    n, m = len(ref_sorted), len(cur_sorted)
    if n == 0 or m == 0:
        return float("nan")
    right = np.searchsorted(ref_sorted, cur_sorted, side="right")
    # `left` differs from `right` only where a current value equals a reference value.
    prev = ref_sorted[np.maximum(right - 1, 0)]
    equal = (right > 0) & (prev == cur_sorted)
    if equal.any():
        left = right.copy()
        idx = np.flatnonzero(equal)
        left[idx] = np.searchsorted(ref_sorted, cur_sorted[idx], side="left")
    else:
        left = right
    steps = np.arange(m, dtype=np.float64)
    d_plus = ((steps + 1.0) / m - right / n).max()
    d_minus = (left / n - steps / m).max()
    return float(max(d_plus, d_minus, 0.0))


def ks_pvalues(d: np.ndarray, n: np.ndarray, m: np.ndarray,
               samples: list[tuple[np.ndarray, np.ndarray]] | None = None) -> np.ndarray:
    """Two-sided KS p-values.

    Smirnov's asymptotic distribution ``kstwo.sf(D, round(nm/(n+m)))`` (what
    ``scipy.stats.ks_2samp(method="asymp")`` computes) for every column in one call; columns
    with ``n·m ≤`` :data:`KS_EXACT_MAX_CELLS` use SciPy's exact method instead, for which
    ``samples`` must be given.
    """
    from scipy import stats

    d, n, m = (np.asarray(x, dtype=np.float64) for x in (d, n, m))
    out = np.full(d.shape, np.nan)
    ok = (n > 0) & (m > 0) & np.isfinite(d)
    big, small = sorted_pair(n, m)
    en = np.round(np.where(ok, big * small / np.maximum(big + small, 1), 1))
    asymp = ok & (n * m > KS_EXACT_MAX_CELLS)
    if asymp.any():
        out[asymp] = stats.kstwo.sf(d[asymp], en[asymp])
    exact = np.flatnonzero(ok & ~asymp)
    if len(exact):
        if samples is None:
            raise InvalidInputError("Small samples need the values for an exact KS p-value.")
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for i in exact:
                out[i] = stats.ks_2samp(samples[i][0], samples[i][1], method="exact").pvalue
    return np.clip(out, 0.0, 1.0)


def sorted_pair(n: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.maximum(n, m), np.minimum(n, m)


def psi(ref_props: np.ndarray, cur_props: np.ndarray, eps: float = PSI_EPS) -> float:
    """Population stability index ``Σ (c − r)·ln(c / r)`` with zero shares set to ``eps``."""
    r = np.where(ref_props <= 0, eps, ref_props)
    c = np.where(cur_props <= 0, eps, cur_props)
    return float(np.sum((c - r) * np.log(c / r)))


def js_distance(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """Jensen–Shannon distance (natural log, as ``scipy.spatial.distance.jensenshannon``)."""
    p = p_counts / p_counts.sum()
    q = q_counts / q_counts.sum()
    mid = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / mid), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log(q / mid), 0.0).sum()
    return float(math.sqrt(max((kl_p + kl_q) / 2.0, 0.0)))


def chi2_homogeneity(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Chi-squared test that both samples share one categorical distribution.

    The ``2 × K`` contingency test without Yates' correction: the same statistic and p-value
    as ``scipy.stats.chi2_contingency([ref, cur], correction=False)`` over the categories
    seen in either sample.
    """
    from scipy import stats

    table = np.vstack([ref_counts, cur_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    stat = float(((table - expected) ** 2 / expected).sum())
    return stat, float(stats.chi2.sf(stat, table.shape[1] - 1))


# ============================================================================ reports
@dataclasses.dataclass(frozen=True)
class ColumnDrift:
    """Drift of one column in one window."""

    feature: str
    kind: str  # numeric / categorical
    rows: int  # non-missing current values compared
    measures: dict[str, float]
    drifted: bool
    missing_share: float
    reference_missing_share: float
    missing_drifted: bool
    #: Current distribution for reports: numeric → counts per reference PSI bin;
    #: categorical → {"categories": [...], "counts": [...]} (top ones).
    current: dict


@dataclasses.dataclass(frozen=True)
class SchemaReport:
    missing_columns: list[str]
    new_columns: list[str]
    type_changes: dict[str, tuple[str, str]]  # column -> (reference kind, current kind)

    @property
    def issues(self) -> int:
        return len(self.missing_columns) + len(self.new_columns) + len(self.type_changes)

    def to_dict(self) -> dict:
        return {"missing_columns": self.missing_columns, "new_columns": self.new_columns,
                "type_changes": {k: list(v) for k, v in self.type_changes.items()}}


@dataclasses.dataclass(frozen=True)
class DriftReport:
    """Per-column drift, schema checks and prediction drift of one batch of rows."""

    rows: int
    columns: list[ColumnDrift]
    schema: SchemaReport
    prediction: ColumnDrift | None = None
    thresholds: dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))

    @property
    def drifted(self) -> list[str]:
        """Names of the feature columns whose distribution drifted."""
        return [c.feature for c in self.columns if c.drifted]

    @property
    def drift_share(self) -> float:
        return len(self.drifted) / len(self.columns) if self.columns else 0.0

    def column(self, name: str) -> ColumnDrift:
        for c in [*self.columns, *([self.prediction] if self.prediction else [])]:
            if c.feature == name:
                return c
        raise KeyError(name)

    def results(self) -> list[tuple[str, str, float | None, bool | None]]:
        """``(feature, measure, value, drifted)`` rows as stored per window."""
        out: list[tuple[str, str, float | None, bool | None]] = []
        for c in [*self.columns, *([self.prediction] if self.prediction else [])]:
            for k, v in c.measures.items():
                out.append((c.feature, k, v, None))
            out.append((c.feature, "drift", float(c.drifted), c.drifted))
            out.append((c.feature, "missing_share", c.missing_share, c.missing_drifted))
        out.append(("", "rows", float(self.rows), None))
        out.append(("", "drift_share", self.drift_share, None))
        out.append(("", "columns_drifted", float(len(self.drifted)), None))
        out.append(("", "schema_issues", float(self.schema.issues), self.schema.issues > 0))
        for col in self.schema.missing_columns:
            out.append((col, "schema_missing", 1.0, True))
        for col in self.schema.new_columns:
            out.append((col, "schema_new", 1.0, True))
        for col in self.schema.type_changes:
            out.append((col, "schema_type", 1.0, True))
        return out

    def to_frame(self):
        """One row per column: kind, verdict and every measure."""
        import pandas as pd

        rows = []
        for c in [*self.columns, *([self.prediction] if self.prediction else [])]:
            rows.append({"feature": c.feature, "kind": c.kind, "drifted": c.drifted,
                         **c.measures, "missing_share": c.missing_share, "rows": c.rows})
        return pd.DataFrame(rows).set_index("feature") if rows else pd.DataFrame()

    def summary(self) -> dict:
        """Compact JSON for the window row (what reports draw current distributions from)."""
        return {"schema": self.schema.to_dict(), "drifted": self.drifted,
                "prediction_drifted": bool(self.prediction and self.prediction.drifted),
                "current": {c.feature: c.current for c in
                            [*self.columns, *([self.prediction] if self.prediction else [])]},
                "thresholds": self.thresholds}

    def _repr_html_(self) -> str:
        frame = self.to_frame()
        head = (f"<p><b>{len(self.drifted)}</b> of {len(self.columns)} columns drifted "
                f"over {self.rows} rows")
        if self.schema.issues:
            import html

            head += f"; schema: {html.escape(str(self.schema.to_dict()))}"
        return head + "</p>" + (frame.to_html() if len(frame) else "")


# ============================================================================ computing
def compute_drift(profile: ReferenceProfile, data: Any, *, predictions: Any = None,
                  thresholds: Mapping[str, float] | None = None,
                  workers: int | None = None) -> DriftReport:
    """Compare ``data`` (a DataFrame or a mapping of columns) with the reference profile.

    Parameters
    ----------
    profile : ReferenceProfile
    data : pandas.DataFrame or mapping of column name → array-like
    predictions : array-like, optional
        The model's outputs on these rows (prediction drift, if the profile has a baseline).
    thresholds : mapping, optional
        Overrides of :data:`DEFAULT_THRESHOLDS`.
    workers : int, optional
        Threads for the per-column work (default: up to 4, by data size).

    Returns
    -------
    DriftReport
    """
    import pandas as pd

    t = dict(DEFAULT_THRESHOLDS)
    if thresholds:
        unknown = set(thresholds) - set(DEFAULT_THRESHOLDS)
        if unknown:
            raise InvalidInputError(f"Unknown drift threshold(s) {sorted(unknown)}; known: "
                                    f"{sorted(DEFAULT_THRESHOLDS)}.")
        t.update({k: float(v) for k, v in thresholds.items()})
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(dict(data))
    frame = frame.rename(columns=str) if not all(isinstance(c, str) for c in frame.columns) \
        else frame
    schema = _schema(profile, frame)
    present = [c for c in profile.columns.values() if c.name in frame.columns
               and c.name not in schema.type_changes]
    numeric = [c for c in present if c.kind == "numeric"]
    categorical = [c for c in present if c.kind == "categorical"]
    results: dict[str, ColumnDrift] = {}
    if numeric:
        for cd in _numeric(numeric, [frame[c.name] for c in numeric], t, workers, len(frame)):
            results[cd.feature] = cd
    for c in categorical:
        results[c.name] = _categorical(c, frame[c.name].to_numpy(), t)
    pred = None
    if predictions is not None and profile.prediction is not None:
        arr = np.asarray(predictions)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        p = profile.prediction
        if p.kind == "numeric" and not prediction_is_label(arr):
            pred = _numeric([p], [pd.Series(arr)], t, 1, len(arr))[0]
        elif p.kind == "categorical":
            pred = _categorical(p, arr, t)
        else:  # labels where numbers were profiled (or the reverse): compare as labels
            pred = _categorical(_as_categorical(p), arr, t)
    ordered = [results[c.name] for c in present]
    return DriftReport(len(frame), ordered, schema, pred, t)


def _schema(profile: ReferenceProfile, frame) -> SchemaReport:
    ref = profile.columns
    missing = [n for n in ref if n not in frame.columns]
    new = [str(c) for c in frame.columns if str(c) not in ref]
    changes: dict[str, tuple[str, str]] = {}
    for name, c in ref.items():
        if name not in frame.columns:
            continue
        s = frame[name]
        cur = series_kind(s)
        if cur == c.dtype_kind or (s.isna().all() and len(s)):
            continue
        if any(cur in g and c.dtype_kind in g for g in _KIND_GROUPS):
            continue
        if c.kind == "categorical" and cur in ("integer", "boolean", "string", "category") \
                and c.dtype_kind in ("integer", "boolean", "string", "category"):
            # Labels compare as strings; only flag the switch between numbers and text.
            if (cur in ("string", "category")) == (c.dtype_kind in ("string", "category")):
                continue
        if cur == "object" and c.kind == "categorical":
            continue
        changes[name] = (c.dtype_kind, cur)
    return SchemaReport(missing, new, changes)


def _pool_size(workers: int | None, cells: int) -> int:
    if workers is not None:
        return max(1, workers)
    if cells < 400_000:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def _numeric(cols: list[ColumnProfile], series: list, t: dict, workers: int | None,
             rows: int) -> list[ColumnDrift]:
    def one(i: int):
        c, s = cols[i], series[i]
        values = s.to_numpy(dtype=np.float64, na_value=np.nan) if hasattr(s, "to_numpy") \
            else np.asarray(s, dtype=np.float64)
        cur = np.sort(values)  # NaN sorts last
        finite = len(cur) - int(np.count_nonzero(np.isnan(cur)))
        cur = cur[:finite]
        d = ks_statistic(c.sorted_values, cur)
        counts = bin_counts(cur, c.edges)
        props = counts / finite if finite else np.zeros(len(counts))
        return d, finite, len(values) - finite, counts, props, cur

    pool = _pool_size(workers, rows * len(cols))
    if pool > 1 and len(cols) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(pool) as ex:
            parts = list(ex.map(one, range(len(cols))))
    else:
        parts = [one(i) for i in range(len(cols))]
    d = np.array([p[0] for p in parts])
    n = np.array([len(c.sorted_values) for c in cols], dtype=np.float64)
    m = np.array([p[1] for p in parts], dtype=np.float64)
    need_values = bool(np.any((n * m <= KS_EXACT_MAX_CELLS) & (n > 0) & (m > 0)))
    samples = [(c.sorted_values, p[5]) for c, p in zip(cols, parts)] if need_values else None
    pvals = ks_pvalues(d, n, m, samples)
    out = []
    for c, p, di, pv in zip(cols, parts, d, pvals):
        psi_value = psi(c.bin_props, p[4]) if p[1] else float("nan")
        drifted = bool(pv < t["ks_pvalue"] and psi_value >= t["psi"])
        total = p[1] + p[2]
        miss = p[2] / total if total else 0.0
        out.append(ColumnDrift(
            c.name, "numeric", int(p[1]), {"ks": float(di), "ks_pvalue": float(pv),
                                           "psi": psi_value},
            drifted, miss, c.missing_share, miss - c.missing_share > t["missing_increase"],
            {"bins": p[3].tolist()}))
    return out


def _categorical(c: ColumnProfile, values: np.ndarray, t: dict) -> ColumnDrift:
    import pandas as pd

    s = pd.Series(values, dtype=object if values.dtype.kind in "OUS" else None)
    mask = s.notna().to_numpy()
    total = len(values)
    labels = label_strings(np.asarray(values)[mask]) if mask.any() else np.array([], dtype=str)
    vc = pd.Series(labels, dtype=object).value_counts(sort=True)
    ref_index = {k: i for i, k in enumerate(c.categories or [])}
    new_labels = [str(k) for k in vc.index if str(k) not in ref_index]
    cats = list(c.categories or []) + new_labels
    ref_counts = np.concatenate([c.counts, np.zeros(len(new_labels), dtype=np.int64)])
    cur_counts = np.zeros(len(cats), dtype=np.int64)
    pos = {k: i for i, k in enumerate(cats)}
    for k, v in zip(vc.index, vc.to_numpy()):
        cur_counts[pos[str(k)]] = v
    m = int(cur_counts.sum())
    measures: dict[str, float]
    if m == 0 or ref_counts.sum() == 0:
        measures = {"chi2": float("nan"), "chi2_pvalue": float("nan"), "js": float("nan"),
                    "psi": float("nan"), "new_share": float("nan")}
        drifted = False
    else:
        stat, pv = chi2_homogeneity(ref_counts, cur_counts)
        js = js_distance(ref_counts.astype(float), cur_counts.astype(float))
        ps = psi(ref_counts / ref_counts.sum(), cur_counts / m)
        new_share = float(cur_counts[len(c.categories or []):].sum() / m)
        measures = {"chi2": stat, "chi2_pvalue": pv, "js": js, "psi": ps, "new_share": new_share}
        drifted = bool(pv < t["chi2_pvalue"] and js >= t["js"])
    miss = (total - m) / total if total else 0.0
    top = np.argsort(-cur_counts, kind="stable")[:TOP_CATEGORIES]
    return ColumnDrift(c.name, "categorical", m, measures, drifted, miss, c.missing_share,
                       miss - c.missing_share > t["missing_increase"],
                       {"categories": [cats[i] for i in top],
                        "counts": [int(cur_counts[i]) for i in top]})


def _as_categorical(c: ColumnProfile) -> ColumnProfile:
    labels = label_strings(c.sorted_values if c.sorted_values is not None else [])
    import pandas as pd

    vc = pd.Series(labels, dtype=object).value_counts()
    return ColumnProfile(c.name, "categorical", c.dtype_kind, c.rows, c.missing,
                         categories=[str(x) for x in vc.index], counts=vc.to_numpy())


def reference_distribution(c: ColumnProfile) -> dict:
    """The reference side of a column for reports (same shape as ``ColumnDrift.current``)."""
    if c.kind == "numeric":
        return {"bins": (np.asarray(c.bin_props) * len(c.sorted_values)).round().astype(
            int).tolist(), "edges": np.asarray(c.edges).tolist()}
    return {"categories": list(c.categories or [])[:TOP_CATEGORIES],
            "counts": [int(x) for x in (c.counts[:TOP_CATEGORIES] if c.counts is not None
                                        else [])]}


__all__ = ["DEFAULT_THRESHOLDS", "PREDICTION", "ColumnDrift", "DriftReport", "SchemaReport",
           "chi2_homogeneity", "compute_drift", "js_distance", "ks_pvalues", "ks_statistic",
           "psi"]
