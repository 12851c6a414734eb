"""Request and response models of the model-registry routes (see ``docs/openapi.yaml``).

Bodies are parsed into frozen values or refused with
:class:`~jupyter_mlops.errors.InvalidInputError` (→ 400) naming the field; responses are the
registry's records as JSON. A model card travels as Markdown and as HTML that
:mod:`jupyter_mlops.registry.cards` escaped value by value; the panel still shows the HTML
only in a sandboxed frame.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.validation import check_int64

MAX_REASON = 2000
#: A number in a path: ASCII digits, no more than int64 can have (more is refused as too long).
_NUMBER = re.compile(r"[0-9]{1,19}")


def _reason(body: dict[str, Any]) -> str | None:
    reason = body.get("reason")
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise InvalidInputError("'reason' must be a string.")
    if len(reason) > MAX_REASON:
        raise InvalidInputError(f"'reason' is longer than {MAX_REASON} characters.")
    return reason.strip() or None


def _only(body: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise InvalidInputError(
            f"Unknown field(s) {sorted(unknown)} in the {what}; allowed: "
            f"{', '.join(sorted(allowed))}.")


@dataclasses.dataclass(frozen=True)
class ProposeBody:
    """``POST models/<name>/promotions``: ``version`` (int), ``alias`` (default
    ``champion``), ``reason``."""

    version: int
    alias: str
    reason: str | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ProposeBody:
        _only(body, {"version", "alias", "reason"}, "promotion request")
        version = body.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidInputError(
                f"'version' must be a version number (1, 2, …); got {version!r}.")
        alias = body.get("alias", "champion")
        if not isinstance(alias, str) or not alias:
            raise InvalidInputError("'alias' must be a non-empty string, e.g. 'champion'.")
        return cls(version=version, alias=alias, reason=_reason(body))


@dataclasses.dataclass(frozen=True)
class DecisionBody:
    """``POST promotions/<id>/approve|reject``: an optional ``reason``."""

    reason: str | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> DecisionBody:
        _only(body, {"reason"}, "decision")
        return cls(reason=_reason(body))


def parse_request_id(text: str) -> int:
    # ASCII digits only: str.isdigit() also accepts "²" or "٣", which int() refuses or reads.
    if not _NUMBER.fullmatch(text):
        raise InvalidInputError(
            f"Promotion request ids are numbers of at most 19 digits; got {text[:40]!r}.")
    return check_int64(int(text), "promotion request id")


def parse_version(text: str) -> int | str:
    """A version number, or an alias naming one (``champion``)."""
    if text.isdigit():  # any script's digits: the registry would try int() on them
        if not _NUMBER.fullmatch(text):
            raise InvalidInputError(
                f"Version numbers are ASCII digits within the 64-bit integer range; got "
                f"{text[:40]!r}.")
        return check_int64(int(text), "version number")
    return text


# ---------------------------------------------------------------------- responses
def version_summary_json(v: Any) -> dict[str, Any]:
    """A version row: number, aliases, metrics, who/when, file facts (no example rows)."""
    out = v.to_dict()
    out.pop("input_example", None)
    out["has_signature"] = out.pop("signature", None) is not None
    out["uri"] = v.uri
    return out


def model_detail_json(model: Any, versions: list[Any], promotions: list[Any]) -> dict[str, Any]:
    out = model.to_dict()
    out["versions"] = [version_summary_json(v) for v in versions]
    out["promotions"] = [p.to_dict() for p in promotions]
    return out


def version_detail_json(v: Any, *, signature_rows: list[tuple[str, str]],
                        lineage: Any, run: Any | None,
                        promotions: list[Any]) -> dict[str, Any]:
    """The whole version: metrics, signature (raw and as rows), input example, the run it
    came from, its lineage graph and its promotion requests."""
    out = v.to_dict()
    out["uri"] = v.uri
    out["signature_columns"] = [{"name": n, "type": t} for n, t in signature_rows]
    out["run"] = None if run is None else {
        "id": run.id, "name": run.name, "experiment": run.experiment, "status": run.status,
        "user": run.user, "start_time": run.start_time, "end_time": run.end_time}
    out["lineage"] = lineage.to_dict()
    out["promotions"] = [p.to_dict() for p in promotions]
    return out


def card_json(card: Any) -> dict[str, Any]:
    return {"name": card.name, "version": card.version, "title": card.title,
            "markdown": card.markdown, "html": card.html}


def identity_json(user: str, source: str, jupyter_user: Any, roles: list[Any],
                  actions: list[str]) -> dict[str, Any]:
    return {
        "user": user,
        "source": source,
        "jupyter_user": getattr(jupyter_user, "username", None),
        "jupyter_display_name": getattr(jupyter_user, "display_name", None),
        "roles": sorted({r.role for r in roles}),
        "actions": actions,
    }
