"""Cron expressions evaluated in a time zone, with daylight-saving time handled on purpose.

Syntax: the five Vixie-cron fields ``minute hour day-of-month month day-of-week``, or six
with a leading ``second`` field (for tests and fast loops). Each field takes ``*``, numbers,
ranges ``a-b``, steps ``*/n`` / ``a-b/n`` / ``a/n``, lists ``a,b``, month and weekday names
(``jan``, ``mon``; weekday 0 and 7 are Sunday). As in Vixie cron, when both day-of-month and
day-of-week are restricted a day matching *either* fires. Macros: ``@yearly``/``@annually``,
``@monthly``, ``@weekly``, ``@daily``/``@midnight``, ``@hourly``.

Daylight-saving time (wall-clock times in ``timezone``, via :mod:`zoneinfo`):

- a time that happens twice (clocks go back) fires at its first occurrence only — unless the
  hour field is ``*``, in which case the schedule is "every hour" and fires in both, so an
  hourly job fires 25 times that day;
- a time that does not exist (clocks go forward) is skipped when the hour field is ``*``
  (an hourly job fires 23 times that day); a job pinned to specific hours fires once, at the
  same wall-clock offset after the jump (02:30 → 03:30 on America/New_York's spring day).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.validation import INT64_MAX, ascii_digits, parse_int

_MONTHS = {m: i + 1 for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split())}
_DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
_MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
           "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
           "@hourly": "0 * * * *"}
#: How far ahead a slot is searched for before the expression is declared impossible.
_HORIZON_YEARS = 8


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(f"Unknown time zone {name!r}: use an IANA name such as "
                                "'UTC' or 'Europe/Berlin'.") from None


class CronExpression:
    """A parsed cron expression in a time zone.

    Parameters
    ----------
    expression : str
        Five fields (``"*/15 * * * *"``), six with leading seconds, or a macro.
    timezone : str
        IANA time zone the wall-clock fields refer to (default ``UTC``).

    Raises
    ------
    InvalidInputError
        A malformed field (the message names it) or an unknown time zone.
    """

    def __init__(self, expression: str, timezone: str = "UTC"):
        self.expression = expression
        self.timezone = timezone
        self.tz = _zone(timezone)
        text = _MACROS.get(expression.strip().lower(), expression)
        parts = text.split()
        if len(parts) == 5:
            parts = ["0", *parts]
        if len(parts) != 6:
            raise InvalidInputError(
                f"Cron expression {expression!r} needs 5 fields (minute hour day month "
                "weekday) or 6 with leading seconds.")
        names = ("second", "minute", "hour", "day-of-month", "month", "day-of-week")
        ranges = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
        aliases = (None, None, None, None, _MONTHS, _DAYS)
        fields = [_field(p, n, lo, hi, al) for p, n, (lo, hi), al in
                  zip(parts, names, ranges, aliases)]
        self.seconds, self.minutes, self.hours, self.days, self.months, dows = fields
        self.dows = sorted({d % 7 for d in dows})
        self.dom_any = parts[3] == "*" or parts[3] == "?"
        self.dow_any = parts[5] == "*" or parts[5] == "?"
        self.every_hour = len(self.hours) == 24

    def __repr__(self) -> str:
        return f"CronExpression({self.expression!r}, {self.timezone!r})"

    # ----------------------------------------------------------------- public
    def next_after(self, t: float) -> float:
        """The first slot strictly after epoch second ``t``."""
        local = dt.datetime.fromtimestamp(t, self.tz)
        wall = local.replace(tzinfo=None, microsecond=0)
        # Fast path: with one UTC offset from t to the candidate, wall-clock order is real
        # order, so the first matching wall-clock time after t's is the answer.
        naive = self._next_naive(wall + dt.timedelta(seconds=1))
        instants = [i for i in self._instants(naive) if i > t]
        if instants:
            cand = instants[0]
            end = dt.datetime.fromtimestamp(cand, self.tz)
            if end.utcoffset() == local.utcoffset() and cand - t < 20 * 86400 \
                    and self._no_transition(t, cand):
                return cand
        return self._next_after_slow(t, wall)

    def _no_transition(self, a: float, b: float) -> bool:
        """True if the zone's UTC offset is the same at every hour from ``a`` to ``b``."""
        offset = dt.datetime.fromtimestamp(a, self.tz).utcoffset()
        step = 3600.0
        x = a + step
        while x < b:
            if dt.datetime.fromtimestamp(x, self.tz).utcoffset() != offset:
                return False
            x += step
        return True

    def _next_after_slow(self, t: float, wall: dt.datetime) -> float:
        # Wall-clock and real order differ only inside a fold or a gap (a few hours at
        # most): search from a little earlier and keep the earliest real slot after t.
        margin = dt.timedelta(hours=3)
        naive = wall - margin
        best: float | None = None
        best_naive: dt.datetime | None = None
        while True:
            naive = self._next_naive(naive)
            if best_naive is not None and naive > best_naive + margin:
                return best
            for instant in self._instants(naive):
                if instant > t and (best is None or instant < best):
                    best, best_naive = instant, naive
            naive += dt.timedelta(seconds=1)

    def slots_between(self, start: float, end: float, limit: int = 100_000) -> Iterator[float]:
        """Slots ``s`` with ``start < s <= end``, in order (at most ``limit``)."""
        t = start
        for _ in range(limit):
            t = self.next_after(t)
            if t > end:
                return
            yield t

    # ----------------------------------------------------------------- internals
    def _instants(self, naive: dt.datetime) -> list[float]:
        """Real instants of one matching wall-clock time, applying the DST rules."""
        first = naive.replace(tzinfo=self.tz, fold=0)
        second = naive.replace(tzinfo=self.tz, fold=1)
        if first.utcoffset() == second.utcoffset():
            return [first.timestamp()]
        # Ambiguous or nonexistent: round-tripping through UTC tells which.
        exists = {f.timestamp() for f in (first, second)
                  if f.astimezone(dt.timezone.utc).astimezone(self.tz).replace(tzinfo=None)
                  == naive}
        if len(exists) == 2:  # repeated hour (clocks went back)
            both = sorted(exists)
            return both if self.every_hour else both[:1]
        if self.every_hour:  # skipped hour (clocks went forward)
            return []
        return [first.timestamp()]  # fold=0 maps a gap time to the same offset after it

    def _next_naive(self, t: dt.datetime) -> dt.datetime:
        """The first naive wall-clock time ≥ ``t`` matching every field."""
        limit = t.year + _HORIZON_YEARS
        while t.year <= limit:
            if t.month not in self.months:
                i = bisect.bisect_right(self.months, t.month)
                t = (dt.datetime(t.year, self.months[i], 1) if i < len(self.months)
                     else dt.datetime(t.year + 1, self.months[0], 1))
                continue
            if not self._day_matches(t):
                t = dt.datetime(t.year, t.month, t.day) + dt.timedelta(days=1)
                continue
            if t.hour not in self.hours:
                i = bisect.bisect_right(self.hours, t.hour)
                t = (t.replace(hour=self.hours[i], minute=0, second=0) if i < len(self.hours)
                     else dt.datetime(t.year, t.month, t.day) + dt.timedelta(days=1))
                continue
            if t.minute not in self.minutes:
                i = bisect.bisect_right(self.minutes, t.minute)
                t = (t.replace(minute=self.minutes[i], second=0) if i < len(self.minutes)
                     else t.replace(minute=0, second=0) + dt.timedelta(hours=1))
                continue
            if t.second not in self.seconds:
                i = bisect.bisect_right(self.seconds, t.second)
                t = (t.replace(second=self.seconds[i]) if i < len(self.seconds)
                     else t.replace(second=0) + dt.timedelta(minutes=1))
                continue
            return t
        raise InvalidInputError(f"Cron expression {self.expression!r} never matches "
                                f"(e.g. 30 February).")

    def _day_matches(self, t: dt.datetime) -> bool:
        dom = t.day in self.days
        dow = (t.isoweekday() % 7) in self.dows
        if self.dom_any or self.dow_any:
            return dom and dow
        return dom or dow


def _field(text: str, name: str, lo: int, hi: int, aliases: dict | None) -> list[int]:
    def num(s: str) -> int:
        s = s.strip().lower()
        if aliases and s in aliases:
            return aliases[s]
        if not ascii_digits(s):  # isdigit() also passes "²", which int() refuses
            raise InvalidInputError(f"Cron field {name} {text!r}: {s!r} is not a number"
                                    + (f" or a name ({', '.join(aliases)})" if aliases else ""))
        v = parse_int(s, f"value of cron field {name} {text!r}")
        if not lo <= v <= hi:
            raise InvalidInputError(f"Cron field {name} {text!r}: {v} is outside {lo}-{hi}.")
        return v

    values: set[int] = set()
    for part in text.split(","):
        body, _, step_s = part.partition("/")
        step = 1
        if step_s:
            if not ascii_digits(step_s) or not step_s.strip("0"):  # no digits, or zero
                raise InvalidInputError(f"Cron field {name} {text!r}: bad step {step_s!r}.")
            step = parse_int(step_s, f"step of cron field {name} {text!r}", 1, INT64_MAX)
        if body in ("*", "?"):
            a, b = lo, hi if name != "day-of-week" else 6
        elif "-" in body:
            a_s, b_s = body.split("-", 1)
            a, b = num(a_s), num(b_s)
            if a > b:
                raise InvalidInputError(f"Cron field {name} {text!r}: range {body} is backwards.")
        else:
            a = num(body)
            b = hi if step_s else a
        values.update(range(a, b + 1, step))
    if not values:
        raise InvalidInputError(f"Cron field {name} {text!r} matches nothing.")
    return sorted(values)
