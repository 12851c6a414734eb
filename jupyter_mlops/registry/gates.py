"""Promotion gates: per-model rules a version must pass before a gated alias moves to it.

The policy lives in ``RegisteredModel.gate_policy``::

    {
      "require_better": {"metric": "accuracy", "direction": "max", "min_delta": 0.0},
      "require_reproduced": true,
      "gated_aliases": ["champion"],      # default: ["champion"]
      "protected_aliases": ["champion"],  # moving these directly needs the set_alias action
      "separate_approver": true           # four eyes: nobody approves their own proposal
    }

``require_better`` compares the metric recorded on the candidate version with the one on the
version the alias points at now (no current target passes). ``require_reproduced`` asks a
:class:`ReproduceCheck` that whoever builds the registry hands it (``Client.registry`` binds
the pipelines component's check to the Client's own store); a registry built without one
fails that gate with a verdict that says so. Every verdict, passed or failed, is stored in
the audit log.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.store.registry import check_alias
from jupyter_mlops.store.registry_records import ModelVersionRecord


class ReproduceCheck(Protocol):
    """Does run ``run_id`` reproduce cleanly from its snapshot, on the registry's own store?

    Returns ``ok`` or ``(ok, detail)``; raising counts as a failed gate, never a crash.
    Injected at construction (``RegistryClient(client, reproduce_check=...)``), never looked
    up in a module global, so each registry asks about runs in the store it was built on.
    """

    def __call__(self, run_id: str) -> bool | tuple[bool, str]: ...


DEFAULT_GATED_ALIASES = ("champion",)
_POLICY_KEYS = {"require_better", "require_reproduced", "gated_aliases", "protected_aliases",
                "separate_approver"}


def validate_policy(policy: dict | None) -> dict | None:
    """Return a normalised copy of ``policy``; InvalidInputError on anything unknown."""
    if policy is None or policy == {}:
        return None
    if not isinstance(policy, dict):
        raise InvalidInputError("A gate policy is a dict, e.g. {'require_reproduced': True}.")
    unknown = set(policy) - _POLICY_KEYS
    if unknown:
        raise InvalidInputError(f"Unknown gate policy key(s) {sorted(unknown)}; known: "
                                f"{sorted(_POLICY_KEYS)}.")
    out: dict[str, Any] = {}
    better = policy.get("require_better")
    if better:
        if isinstance(better, str):
            better = {"metric": better}
        if not isinstance(better, dict) or not isinstance(better.get("metric"), str):
            raise InvalidInputError(
                "require_better needs a metric: {'metric': 'accuracy', 'direction': 'max'}.")
        direction = better.get("direction", "max")
        if direction not in ("max", "min"):
            raise InvalidInputError("require_better's direction is 'max' or 'min'.")
        try:
            min_delta = float(better.get("min_delta", 0.0))
        except (TypeError, ValueError):
            raise InvalidInputError("require_better's min_delta must be a number.") from None
        out["require_better"] = {"metric": better["metric"], "direction": direction,
                                 "min_delta": min_delta}
    for flag in ("require_reproduced", "separate_approver"):
        if policy.get(flag):
            out[flag] = True
    for key in ("gated_aliases", "protected_aliases"):
        if key in policy:
            values = policy[key]
            if isinstance(values, str) or not isinstance(values, (list, tuple)):
                raise InvalidInputError(f"{key} is a list of alias names.")
            out[key] = [check_alias(a) for a in values]
    return out or None


def is_gated(policy: dict | None, alias: str) -> bool:
    if not policy or not (policy.get("require_better") or policy.get("require_reproduced")):
        return False
    return alias in policy.get("gated_aliases", DEFAULT_GATED_ALIASES)


def is_protected(policy: dict | None, alias: str) -> bool:
    return bool(policy) and alias in policy.get("protected_aliases", ())


def check_reproduced(version: ModelVersionRecord, hook: ReproduceCheck | None) -> dict:
    """Ask ``hook`` about ``version``'s run (outside any transaction: it may be slow)."""
    if version.run_id is None:
        return {"gate": "require_reproduced", "passed": False,
                "detail": "the version has no run, so there is nothing to reproduce"}
    if hook is None:
        return {"gate": "require_reproduced", "passed": False,
                "detail": "this registry was built without a reproduction check, so "
                          f"run {version.run_id} cannot be shown to reproduce; use "
                          "Client(...).registry, which checks on the Client's own store"}
    try:
        result = hook(version.run_id)
    except Exception as exc:  # a failing check is a failed gate, never a crash
        return {"gate": "require_reproduced", "passed": False,
                "detail": f"the reproduction check failed: {type(exc).__name__}: {exc}"}
    passed, detail = (result if isinstance(result, tuple) else (result, ""))
    return {"gate": "require_reproduced", "passed": bool(passed),
            "detail": str(detail) or (f"run {version.run_id} "
                                      f"{'reproduced cleanly' if passed else 'did not reproduce'}")}


def _check_better(rule: dict, candidate: ModelVersionRecord,
                  incumbent: ModelVersionRecord | None) -> dict:
    metric, direction, delta = rule["metric"], rule["direction"], rule["min_delta"]
    out = {"gate": "require_better", "metric": metric, "direction": direction}
    new = candidate.metrics.get(metric)
    if new is None or not math.isfinite(new):
        return {**out, "passed": False,
                "detail": f"version {candidate.version} has no {metric!r} metric"}
    if incumbent is None:
        return {**out, "passed": True, "candidate": new,
                "detail": "no current version to beat"}
    old = incumbent.metrics.get(metric)
    if old is None or not math.isfinite(old):
        return {**out, "passed": True, "candidate": new,
                "detail": f"current version {incumbent.version} has no {metric!r} metric"}
    gain = new - old if direction == "max" else old - new
    better = gain > 0 and gain >= delta  # a tie keeps the incumbent
    word = "higher" if direction == "max" else "lower"
    return {**out, "passed": better, "candidate": new, "current": old,
            "detail": f"{metric} {new:.6g} vs {old:.6g} on version {incumbent.version} "
                      f"({'' if better else 'not '}{word} by at least {delta:g})"}


def evaluate(policy: dict | None, candidate: ModelVersionRecord,
             incumbent: ModelVersionRecord | None, *, alias: str,
             reproduced: dict | None) -> dict | None:
    """The verdict for moving ``alias`` to ``candidate``, or None when no gate applies.

    Called by the store inside the alias-moving transaction, with the policy and incumbent as
    they are at that moment; ``reproduced`` is :func:`check_reproduced`'s answer, computed
    beforehand (None if it was not asked for).
    """
    if not is_gated(policy, alias):
        return None
    checks = []
    if policy.get("require_better"):
        checks.append(_check_better(policy["require_better"], candidate, incumbent))
    if policy.get("require_reproduced"):
        checks.append(reproduced or {
            "gate": "require_reproduced", "passed": False,
            "detail": "reproduction was not checked (the policy changed meanwhile); retry"})
    passed = all(c["passed"] for c in checks)
    failed = [c["detail"] for c in checks if not c["passed"]]
    return {"passed": passed, "alias": alias, "version": candidate.version,
            "checks": checks, "policy": policy,
            "summary": "all gates passed" if passed else "; ".join(failed)}
