"""Feature references: ``"view:feature"`` (the newest version) or ``"view@3:feature"`` (pinned)."""

from __future__ import annotations

import dataclasses
from typing import Any

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.validation import check_key

MAX_FEATURES = 10_000


@dataclasses.dataclass(frozen=True)
class FeatureRef:
    view: str
    version: int | None
    feature: str

    def __str__(self) -> str:
        pinned = "" if self.version is None else f"@{self.version}"
        return f"{self.view}{pinned}:{self.feature}"


def parse_ref(text: Any) -> FeatureRef:
    """Parse one reference.

    Raises
    ------
    InvalidInputError
        Not ``view:feature`` / ``view@N:feature``.
    """
    if not isinstance(text, str) or ":" not in text:
        raise InvalidInputError(
            f"Features are named 'view:feature' (or 'view@VERSION:feature'), not {text!r}.")
    head, _, feature = text.partition(":")
    view, at, version = head.partition("@")
    check_view_name(view)
    check_key(feature, "feature name")
    if at:
        if not version.isascii() or not version.isdigit() or not 0 < int(version) < 2**31:
            raise InvalidInputError(
                f"The version in {text!r} must be a positive whole number ('view@3:feature').")
        return FeatureRef(view, int(version), feature)
    return FeatureRef(view, None, feature)


def parse_refs(features: Any) -> list[FeatureRef]:
    """A list of references, each at most once, grouped by nothing (order kept)."""
    if isinstance(features, str):
        features = [features]
    try:
        items = list(features)
    except TypeError:
        raise InvalidInputError(
            f"features must be a list of 'view:feature' names, not {type(features).__name__}."
        ) from None
    if not items:
        raise InvalidInputError("Name at least one feature as 'view:feature'.")
    if len(items) > MAX_FEATURES:
        raise InvalidInputError(f"At most {MAX_FEATURES} features per request.")
    refs = [parse_ref(t) for t in items]
    seen: set[FeatureRef] = set()
    for r in refs:
        if r in seen:
            raise InvalidInputError(f"Feature {str(r)!r} is requested twice.")
        seen.add(r)
    return refs


def check_view_name(name: Any) -> str:
    """A view name: 1–256 printable characters without ':' or '@' (they separate references)."""
    if not isinstance(name, str) or not name or len(name) > 256 or not name.isprintable() \
            or ":" in name or "@" in name or name != name.strip():
        raise InvalidInputError(
            f"A feature view name must be 1–256 printable characters without ':', '@' or "
            f"surrounding spaces; got {name!r}.")
    return name
