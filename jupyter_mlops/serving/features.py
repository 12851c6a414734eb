"""``serve --features view:feature,…``: enrich each request by entity key before predicting.

A request names its entities (the views' entity key columns, e.g. ``{"driver": 7}``) and
whatever else the model takes; the server looks the listed features up in the online table
(``client.features.get_online_features``, the latest materialized value within the view's TTL)
and adds them as columns. The values are the ones a point-in-time training set got from the
same rows, so what the model sees served is what it saw in training (issue 16).

A key with no online value (never materialized, or older than the TTL): the row's value is
missing (NaN). A model that scores NaN gets it as NaN, and the response says so — a
``"warnings"`` list in the JSON body (which feature, which rows, which keys) and an
``X-MLOps-Features-Missing`` header (``view:feature=rows,…``) — so a prediction made without a
feature is never mistaken for one made with it. Any other model answers 400 naming the keys
and features that had no value, rather than a prediction made up from nothing.

The enrichment wraps the :class:`~.holder.ModelHolder`: ``holder.current.prepare(parsed)``
enriches, then prepares as before, so the ASGI app is unchanged.
"""

from __future__ import annotations

import contextvars
from typing import Any
from urllib.parse import quote

from jupyter_mlops.errors import MlopsError, http_status_for
from jupyter_mlops.serving.inputs import InputError, Parsed, to_frame

#: Keys named at most in a "no online value" refusal or warning.
_SHOWN_KEYS = 5
#: The request's filled features. A context variable: each ASGI request runs in its own
#: task (its own copy of the context), so concurrent requests never see each other's.
_FILLED: contextvars.ContextVar[list[dict] | None] = contextvars.ContextVar(
    "mlops_filled_features", default=None)
WARNING_HEADER = b"x-mlops-features-missing"


def take_warnings() -> tuple[list[dict], list[tuple[bytes, bytes]]] | None:
    """What this request's enrichment filled with NaN, once: ``(warnings, headers)`` or None.

    ``warnings`` goes into the response body as ``"warnings"``; the header names each
    feature and how many rows lacked it (percent-encoded: view names may be any text).
    """
    filled = _FILLED.get()
    if not filled:
        return None
    _FILLED.set(None)
    header = ",".join(f"{quote(w['feature'], safe=':@')}={len(w['rows'])}" for w in filled)
    return filled, [(WARNING_HEADER, header.encode("ascii"))]


def parse_features(text: Any) -> list[str]:
    """``"view:feature,view2@3:other"`` (or a list of them) → the list of references."""
    items = text.split(",") if isinstance(text, str) else list(text or [])
    refs = [s.strip() for s in items if isinstance(s, str) and s.strip()]
    if not refs or len(refs) != len(items):
        from jupyter_mlops.errors import InvalidInputError

        raise InvalidInputError(
            f"--features takes 'view:feature' names separated by commas, not {text!r}.")
    return refs


class FeatureEnricher:
    """Adds online feature values to each request by its entity key columns.

    Checks at start-up that every view and feature exists and the view is materialized
    (``NotFoundError`` naming it otherwise), so a misspelt ``--features`` never starts a
    server.
    """

    def __init__(self, client, features: Any):
        self.features = client.features
        self.refs = parse_features(features)
        self.entity: list[str] = []
        self.names: list[str] = []
        for ref in self.refs:
            view_name, _, feature = ref.partition(":")
            view = self.features.get_view(view_name)
            self.entity.extend(c for c in view.entity if c not in self.entity)
            self.names.append(feature)
        if len(set(self.names)) != len(self.names):
            from jupyter_mlops.errors import InvalidInputError

            raise InvalidInputError(f"--features names one feature twice: {self.refs}.")
        # Validates every reference (unknown view or feature, not materialized) now.
        self.features.get_online_features({c: [] for c in self.entity}, self.refs)

    def describe(self) -> str:
        return f"adding {', '.join(self.refs)} by {', '.join(self.entity)}"

    def enrich(self, parsed: Parsed, allows_nan: bool) -> Parsed:
        _FILLED.set(None)  # nothing filled until this request's lookup says so
        frame = to_frame(parsed)
        if frame is None:
            raise InputError(
                f"Send named columns (dataframe_split, dataframe_records or inputs) with the "
                f"entity key {', '.join(map(repr, self.entity))}: this server adds "
                f"{', '.join(self.refs)} by it.", 400, "INVALID_PARAMETER_VALUE")
        missing = [c for c in self.entity if c not in frame.columns]
        if missing:
            raise InputError(
                f"Each row needs the entity key column(s) {', '.join(map(repr, missing))}: "
                f"this server looks up {', '.join(self.refs)} by it.", 400,
                "INVALID_PARAMETER_VALUE")
        clash = [f for f in self.names if f in frame.columns]
        if clash:
            raise InputError(
                f"Column(s) {', '.join(map(repr, clash))} come from the feature store on this "
                "server; leave them out of the request.", 400, "INVALID_PARAMETER_VALUE")
        try:
            online = self.features.get_online_features(frame[self.entity], self.refs)
        except MlopsError as exc:
            raise InputError(str(exc), http_status_for(exc), "INVALID_PARAMETER_VALUE") \
                from None
        if not allows_nan:
            self._refuse_missing(frame, online)
        else:
            _FILLED.set(self._filled(frame, online) or None)
        for name in self.names:
            frame[name] = [float("nan") if v is None else v for v in online[name]]
        return Parsed("rows", frame.to_numpy(dtype=object).tolist(),
                      [str(c) for c in frame.columns], parsed.ids)

    def _gaps(self, frame, online: dict[str, list]):
        """``(ref, rows without a value, their first keys as text)`` per feature with gaps."""
        keys_of = None
        for ref, name in zip(self.refs, self.names):
            rows = [i for i, v in enumerate(online[name]) if v is None]
            if rows:
                if keys_of is None:
                    keys_of = {c: frame[c].tolist() for c in self.entity}  # plain values
                keys = [", ".join(f"{c}={keys_of[c][i]!r}" for c in self.entity)
                        for i in rows[:_SHOWN_KEYS]]
                yield ref, rows, keys

    def _filled(self, frame, online: dict[str, list]) -> list[dict]:
        return [{"code": "FEATURE_MISSING", "feature": ref, "rows": rows, "keys": keys,
                 "message": f"No online value of {ref} for {len(rows)} row(s) (not "
                            "materialized, or older than the view's TTL): filled with NaN."}
                for ref, rows, keys in self._gaps(frame, online)]

    def _refuse_missing(self, frame, online: dict[str, list]) -> None:
        gaps = []
        for ref, rows, keys in self._gaps(frame, online):
            more = f" and {len(rows) - _SHOWN_KEYS} more" if len(rows) > _SHOWN_KEYS else ""
            gaps.append(f"{ref} for {'; '.join(keys)}{more}")
        if gaps:
            raise InputError(
                f"No online value of {' | '.join(gaps)} (not materialized, or older than the "
                "view's TTL), and this model cannot score missing values.", 400,
                "INVALID_PARAMETER_VALUE")


class _EnrichedModel:
    """A served model whose ``prepare`` adds the online features first."""

    def __init__(self, served, enricher: FeatureEnricher):
        self._served = served
        self._enricher = enricher

    def __getattr__(self, name: str) -> Any:
        return getattr(self._served, name)

    def prepare(self, parsed: Parsed) -> Any:
        allows_nan = bool(getattr(self._served, "allows_nan", False))
        return self._served.prepare(self._enricher.enrich(parsed, allows_nan))


class EnrichingHolder:
    """A :class:`~.holder.ModelHolder` whose ``current`` model enriches its requests."""

    def __init__(self, holder, enricher: FeatureEnricher):
        self._holder = holder
        self.enricher = enricher
        self._wrapped: tuple[Any, _EnrichedModel] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._holder, name)

    @property
    def current(self) -> _EnrichedModel:
        served = self._holder.current
        wrapped = self._wrapped
        if wrapped is None or wrapped[0] is not served:  # the alias moved: wrap the new one
            wrapped = self._wrapped = (served, _EnrichedModel(served, self.enricher))
        return wrapped[1]
