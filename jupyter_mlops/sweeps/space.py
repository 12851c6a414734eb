"""The search space of a sweep: a short text grammar (magics, strings) → Optuna distributions.

``"lr=loguniform(1e-4,1e-1) depth=int(2,10) kernel=choice(rbf,linear) drop=uniform(0,0.5)
n=int(1,100,log)"``: entries separated by spaces, each ``name=kind(arguments)``:

- ``uniform(LOW,HIGH)`` and ``loguniform(LOW,HIGH)``: a float (``loguniform`` needs LOW > 0);
  ``uniform(LOW,HIGH,step=Q)`` is a float on a grid;
- ``int(LOW,HIGH)``, ``int(LOW,HIGH,log)``, ``int(LOW,HIGH,step=N)``: an integer;
- ``choice(A,B,...)``: one of the values; each is read as a Python literal when it is one
  (``1``, ``0.5``, ``True``, ``None``, ``'a b'``) and as text otherwise (``rbf``).

A space may also be a dict whose values are Optuna distributions, such strings
(``{"lr": "loguniform(1e-4,1e-1)"}``) or lists (a choice). Whatever cannot be read raises
:class:`InvalidInputError` with one line naming the bad token and the grammar. Optuna is
imported by the functions that build distributions, never at import time.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping
from typing import Any

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.validation import check_key

GRAMMAR = ("name=uniform(LOW,HIGH) | loguniform(LOW,HIGH) | int(LOW,HIGH[,log][,step=N]) | "
           "choice(A,B,...), separated by spaces")

# name = kind ( arguments without parentheses ), spaces allowed around each part.
_ENTRY = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*=\s*([A-Za-z_]+)\s*\(([^()]*)\)\s*")
_KINDS = ("uniform", "loguniform", "int", "choice")


def parse_space(space: Any) -> dict[str, Any]:
    """Optuna distributions by parameter name, from a grammar string or a dict.

    Raises
    ------
    InvalidInputError
        One line: the token that could not be read (or the value that is wrong) and the
        grammar.
    """
    if isinstance(space, str):
        return _parse_text(space)
    if isinstance(space, Mapping):
        return _parse_mapping(space)
    raise InvalidInputError(
        f"A sweep space is a string or a dict, not {type(space).__name__}. Grammar: {GRAMMAR}.")


def describe(dist: Any) -> str:
    """The grammar text of one Optuna distribution (recorded as the parent run's params)."""
    import optuna.distributions as d

    if isinstance(dist, d.CategoricalDistribution):
        return "choice(" + ",".join(_literal_text(c) for c in dist.choices) + ")"
    if isinstance(dist, d.IntDistribution):
        extra = ",log" if dist.log else (f",step={dist.step}" if dist.step != 1 else "")
        return f"int({dist.low},{dist.high}{extra})"
    if isinstance(dist, d.FloatDistribution):
        if dist.log:
            return f"loguniform({dist.low!r},{dist.high!r})"
        extra = f",step={dist.step!r}" if dist.step is not None else ""
        return f"uniform({dist.low!r},{dist.high!r}{extra})"
    return repr(dist)


def _fail(token: str, why: str) -> InvalidInputError:
    shown = token if len(token) <= 60 else token[:57] + "..."
    return InvalidInputError(f"Cannot read the sweep space at {shown!r}: {why}. "
                             f"Grammar: {GRAMMAR}.")


def _parse_text(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _ENTRY.match(text, pos)
        if m is None:
            rest = text[pos:].lstrip()
            token = rest.split()[0] if rest.split() else rest
            raise _fail(token, "expected name=kind(arguments)")
        name, kind, args = m.group(1), m.group(2), m.group(3)
        entry = m.group(0).strip()
        if name in out:
            raise _fail(entry, f"{name!r} is given twice")
        out[name] = _distribution(name, kind, args, entry)
        pos = m.end()
    if not out:
        raise InvalidInputError(f"The sweep space is empty. Grammar: {GRAMMAR}.")
    return out


def _parse_mapping(space: Mapping) -> dict[str, Any]:
    import optuna.distributions as d

    if not space:
        raise InvalidInputError(f"The sweep space is empty. Grammar: {GRAMMAR}.")
    out: dict[str, Any] = {}
    for name, value in space.items():
        if not isinstance(name, str) or _ENTRY.match(f"{name}=x()") is None:
            raise _fail(str(name), "a parameter name is letters, digits, '_', '.', '-'")
        if isinstance(value, d.BaseDistribution):
            out[name] = value
        elif isinstance(value, str):
            m = re.fullmatch(r"\s*([A-Za-z_]+)\s*\(([^()]*)\)\s*", value)
            if m is None:
                raise _fail(f"{name}={value}", "expected kind(arguments)")
            out[name] = _distribution(name, m.group(1), m.group(2), f"{name}={value.strip()}")
        elif isinstance(value, (list, tuple)):
            out[name] = _choice(name, [_checked_choice(name, v) for v in value],
                                f"{name}={value!r}")
        else:
            raise _fail(f"{name}={value!r}",
                        "a value is an Optuna distribution, a kind(arguments) string or a list")
    return out


def _distribution(name: str, kind: str, args: str, entry: str) -> Any:
    check = _checked_name(name, entry)
    kind = kind.lower()
    if kind not in _KINDS:
        raise _fail(entry, f"unknown kind {kind!r} (use {', '.join(_KINDS)})")
    parts = [a.strip() for a in args.split(",")] if args.strip() else []
    if kind == "choice":
        if any(p == "" for p in parts):
            raise _fail(entry, "an empty choice")
        return _choice(check, [_checked_choice(name, _literal(p)) for p in parts], entry)
    flags = [p for p in parts[2:]]
    if len(parts) < 2:
        raise _fail(entry, f"{kind} needs LOW,HIGH")
    log, step = False, None
    for flag in flags:
        if flag == "log" and kind == "int":
            log = True
        elif flag.startswith("step="):
            step = flag[5:].strip()
        else:
            raise _fail(entry, f"unexpected argument {flag!r}")
    if kind == "int":
        return _int(entry, parts[0], parts[1], log, step)
    return _float(entry, parts[0], parts[1], kind == "loguniform", step)


def _int(entry: str, lo_s: str, hi_s: str, log: bool, step_s: str | None) -> Any:
    import optuna.distributions as d

    lo, hi = _int_value(entry, lo_s), _int_value(entry, hi_s)
    step = 1 if step_s is None else _int_value(entry, step_s)
    if lo > hi:
        raise _fail(entry, f"LOW {lo} is above HIGH {hi}")
    if step < 1:
        raise _fail(entry, "step must be a positive integer")
    if log and (lo < 1 or step != 1):
        raise _fail(entry, "a log int range needs LOW >= 1 and no step")
    return d.IntDistribution(lo, hi, log=log, step=step)


def _float(entry: str, lo_s: str, hi_s: str, log: bool, step_s: str | None) -> Any:
    import optuna.distributions as d

    lo, hi = _float_value(entry, lo_s), _float_value(entry, hi_s)
    step = None if step_s is None else _float_value(entry, step_s)
    if lo > hi:
        raise _fail(entry, f"LOW {lo!r} is above HIGH {hi!r}")
    if log and lo <= 0:
        raise _fail(entry, "loguniform needs LOW > 0")
    if step is not None and (log or step <= 0):
        raise _fail(entry, "step must be positive, and loguniform takes none")
    return d.FloatDistribution(lo, hi, log=log, step=step)


def _int_value(entry: str, text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise _fail(entry, f"{text!r} is not an integer") from None
    if abs(value) >= 2**63:
        raise _fail(entry, f"{text[:20]!r} is beyond the 64-bit integer range")
    return value


def _float_value(entry: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _fail(entry, f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise _fail(entry, f"{text!r} is not a finite number")
    return value


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def _literal_text(value: Any) -> str:
    return value if isinstance(value, str) and _literal(value) == value and "," not in value \
        else repr(value)


def _checked_choice(name: str, value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise _fail(f"{name}=choice(...{value!r}...)",
                "a choice is a number, text, True/False or None")


def _choice(name: str, values: list, entry: str) -> Any:
    import optuna.distributions as d

    if not values:
        raise _fail(entry, "choice needs at least one value")
    if len(set(map(repr, values))) != len(values):
        raise _fail(entry, "a value is repeated")
    return d.CategoricalDistribution(values)


def _checked_name(name: str, entry: str) -> str:
    try:
        return check_key(name, "sweep parameter name")
    except InvalidInputError as exc:
        raise _fail(entry, str(exc).rstrip(".")) from None
