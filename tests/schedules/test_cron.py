"""Cron parsing and fire times, DST included, in a named timezone (Europe/Rome)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sccli import cron

ROME = cron.timezone("Europe/Rome")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fires(expr: str, start: datetime, until: datetime, tz: str = "Europe/Rome") -> list[datetime]:
    c, zone, out, t = cron.parse(expr), cron.timezone(tz), [], start
    while True:
        t = cron.next_after(c, t, zone)
        if t > until:
            return out
        out.append(t)


def test_daily_at_three_in_rome_is_utc_two_in_winter_one_in_summer() -> None:
    assert fires("0 3 * * *", utc(2026, 1, 10), utc(2026, 1, 11, 12)) == [utc(2026, 1, 10, 2), utc(2026, 1, 11, 2)]
    assert fires("0 3 * * *", utc(2026, 7, 10), utc(2026, 7, 10, 12)) == [utc(2026, 7, 10, 1)]


def test_spring_forward_0230_fires_once_at_0330_summer_time() -> None:
    # 2026-03-29: Rome jumps from 02:00 CET to 03:00 CEST; 02:30 does not exist that night.
    got = fires("30 2 * * *", utc(2026, 3, 27, 12), utc(2026, 3, 30, 12))
    assert got == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]
    assert got[1].astimezone(ROME).strftime("%H:%M %Z") == "03:30 CEST"


def test_fall_back_0230_fires_once_at_first_occurrence() -> None:
    # 2026-10-25: Rome goes back from 03:00 CEST to 02:00 CET; 02:30 happens twice.
    got = fires("30 2 * * *", utc(2026, 10, 24, 12), utc(2026, 10, 26, 12))
    assert got == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_every_half_hour_across_spring_forward_never_repeats_an_instant() -> None:
    got = fires("*/30 * * * *", utc(2026, 3, 28, 23), utc(2026, 3, 29, 3))
    assert got == sorted(set(got))
    assert utc(2026, 3, 29, 1, 0) in got and utc(2026, 3, 29, 1, 30) in got


def test_hourly_on_fall_back_night_fires_each_wall_time_once() -> None:
    got = fires("30 * * * *", utc(2026, 10, 24, 22), utc(2026, 10, 25, 4))
    walls = [g.astimezone(ROME).strftime("%H:%M") for g in got]
    assert len(walls) == len(set(walls)) and "02:30" in walls


def test_vixie_either_day_rule_and_names() -> None:
    c = cron.parse("0 0 13 * fri")
    assert c.day_matches(datetime(2026, 2, 13).date())  # a Friday the 13th
    assert c.day_matches(datetime(2026, 2, 6).date())  # a Friday
    assert c.day_matches(datetime(2026, 3, 13).date())  # the 13th, a Friday too
    assert not c.day_matches(datetime(2026, 3, 14).date())
    assert cron.parse("0 0 * jan-mar sun").months == frozenset({1, 2, 3})
    assert cron.parse("@daily").minutes == frozenset({0})


@pytest.mark.parametrize(
    "expr",
    [
        "",
        "* * * *",
        "* * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 8",
        "5-1 * * * *",
        "*/0 * * * *",
        "a * * * *",
        "0 0 30 2 *",
        "@every 2s",
        "1,,2 * * * *",
        "-1 * * * *",
    ],
)
def test_malformed_crons_are_refused_with_a_reason(expr: str) -> None:
    with pytest.raises(cron.CronError) as info:
        cron.parse(expr)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "/etc/localtime", "Europe/Rome\x00", "x" * 200])
def test_unknown_timezones_are_refused(name: str) -> None:
    with pytest.raises(cron.CronError):
        cron.timezone(name)


def test_every_form_only_when_allowed_and_aligned_to_the_epoch() -> None:
    c = cron.parse("@every 2s", allow_every=True)
    assert cron.next_after(c, utc(2026, 1, 1, 0, 0, 1), ROME) == utc(2026, 1, 1, 0, 0, 2)
    assert cron.next_after(c, utc(2026, 1, 1, 0, 0, 2), ROME) == utc(2026, 1, 1, 0, 0, 4)
    assert cron.latest_due(c, utc(2026, 1, 1), utc(2026, 1, 1, 0, 0, 9), ROME) == utc(2026, 1, 1, 0, 0, 8)


@settings(max_examples=60, deadline=None)
@given(
    minute=st.sampled_from(["*/7", "0", "30", "15,45", "0-10/5"]),
    hour=st.sampled_from(["*", "2", "1-3", "*/6"]),
    offset=st.integers(min_value=0, max_value=366 * 24 * 60),
)
def test_next_fire_is_after_matches_the_fields_and_skips_none(minute: str, hour: str, offset: int) -> None:
    expr = f"{minute} {hour} * * *"
    c = cron.parse(expr)
    start = utc(2026, 1, 1) + timedelta(minutes=offset)
    got = cron.next_after(c, start, ROME)
    assert got > start
    # Brute force: the first minute after start whose wall clock (first reading) matches, or a
    # skipped wall time mapped forward; nothing between start and got matches.
    t = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while t < got:
        local = t.astimezone(ROME)
        assert not (local.minute in c.minutes and local.hour in c.hours and local.fold == 0), (expr, start, t, got)
        t += timedelta(minutes=1)
