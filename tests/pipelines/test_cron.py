"""Cron expressions, time zones and daylight-saving days."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.pipelines.cron import CronExpression

NY = ZoneInfo("America/New_York")


def _day(expr: str, day: dt.date, tz=NY) -> list[str]:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()
    nxt = day + dt.timedelta(days=1)
    end = dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).timestamp()
    cron = CronExpression(expr, str(tz))
    return [dt.datetime.fromtimestamp(s, tz).strftime("%H:%M%z")
            for s in cron.slots_between(start - 0.5, end - 0.5)]


def test_hourly_fires_23_and_25_times_on_dst_days():
    spring = _day("0 * * * *", dt.date(2026, 3, 8))
    fall = _day("0 * * * *", dt.date(2026, 11, 1))
    assert len(spring) == 23 and "02:00-0500" not in spring
    assert len(fall) == 25 and fall[1:3] == ["01:00-0400", "01:00-0500"]
    assert len(_day("0 * * * *", dt.date(2026, 6, 1))) == 24


def test_fixed_time_jobs_fire_once_on_dst_days():
    assert _day("30 2 * * *", dt.date(2026, 3, 8)) == ["03:30-0400"]  # 02:30 does not exist
    assert _day("30 1 * * *", dt.date(2026, 11, 1)) == ["01:30-0400"]  # 01:30 happens twice
    assert _day("30 2 * * *", dt.date(2026, 11, 1)) == ["02:30-0500"]


def test_fields_names_steps_and_weekday_rules():
    utc = dt.timezone.utc
    t0 = dt.datetime(2026, 1, 1, tzinfo=utc).timestamp()  # a Thursday
    weekdays = CronExpression("0 9 * * mon-fri")
    first = dt.datetime.fromtimestamp(weekdays.next_after(t0), utc)
    assert (first.day, first.hour) == (1, 9)
    after_fri = dt.datetime(2026, 1, 2, 10, tzinfo=utc).timestamp()
    assert dt.datetime.fromtimestamp(weekdays.next_after(after_fri), utc).day == 5  # Monday
    # Both day fields restricted: either matches (Vixie cron).
    either = CronExpression("0 0 13 * fri")
    days = [dt.datetime.fromtimestamp(s, utc).day for s in either.slots_between(t0, t0 + 40 * 86400)]
    assert 13 in days and 2 in days and 9 in days
    q = CronExpression("*/15 * * * *")
    assert [int(s - t0) for s in q.slots_between(t0, t0 + 3600)] == [900, 1800, 2700, 3600]
    secs = CronExpression("*/2 * * * * *")  # six fields: seconds first
    assert secs.next_after(t0 + 0.5) == t0 + 2
    assert CronExpression("@daily").next_after(t0) == t0 + 86400
    assert CronExpression("0 0 1 jan,jul *").next_after(t0) == dt.datetime(
        2026, 7, 1, tzinfo=utc).timestamp()
    assert CronExpression("0 12 * * 7").next_after(t0) == CronExpression(
        "0 12 * * sun").next_after(t0)


@pytest.mark.parametrize("expr, fragment", [
    ("* * * *", "needs 5 fields"), ("61 * * * *", "outside 0-59"), ("* * * foo *", "not a number"),
    ("*/0 * * * *", "bad step"), ("5-1 * * * *", "backwards"), ("0 0 30 2 *", "never matches"),
])
def test_bad_expressions_say_what_is_wrong(expr, fragment):
    with pytest.raises(InvalidInputError, match=fragment):
        CronExpression(expr).next_after(0)


def test_unknown_time_zone():
    with pytest.raises(InvalidInputError, match="Unknown time zone"):
        CronExpression("* * * * *", "Mars/Olympus")
