"""Check-call slots from an agreement's terms: local times, weekdays, DST, and terms versions."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from core.agreements.agreement import Agreement
from core.agreements.terms import CheckCallSchedule, HotlineTerms, Terms, TermsVersion
from core.hotline.schedule import slot_at, slots

START = datetime(2026, 3, 2, tzinfo=UTC)  # Monday


def agreement(*versions: tuple[datetime, CheckCallSchedule]) -> Agreement:
    return Agreement(
        id="AB", name="x", parties=("AAA", "BBB", "CCC"), concluded_at=START,
        versions=tuple(TermsVersion(version=i, effective_from=at, terms=Terms(hotline=HotlineTerms(check_calls=s)))
                       for i, (at, s) in enumerate(versions, start=1)),
    )


def test_weekday_slots_of_one_week_in_order_with_answer_windows() -> None:
    found = slots(agreement((START, CheckCallSchedule())), start=START, end=START + timedelta(days=7))
    assert len(found) == 10  # 09:00 and 17:00, Monday to Friday
    assert found[0].start == START.replace(hour=9) and found[0].window_end == START.replace(hour=9, minute=5)
    assert found[0].id == "AB-20260302T0900Z"
    assert found[0].caller == "AAA" and found[0].expected == ("BBB", "CCC")
    assert all(a.start < b.start for a, b in zip(found, found[1:]))


def test_local_time_is_kept_across_daylight_saving() -> None:
    vienna = CheckCallSchedule(times=(time(9, 0),), weekdays=(0, 1, 2, 3, 4, 5, 6), timezone="Europe/Vienna")
    found = slots(agreement((START, vienna)), start=datetime(2026, 3, 28, tzinfo=UTC), end=datetime(2026, 3, 31, tzinfo=UTC))
    assert [s.start.hour for s in found] == [8, 7, 7]  # CET (UTC+1) until 29 March, then CEST (UTC+2)


def test_a_schedule_change_moves_only_the_slots_after_it_takes_effect() -> None:
    change = START + timedelta(days=2, hours=12)  # Wednesday noon
    later = CheckCallSchedule(times=(time(12, 30),), caller="BBB")
    found = slots(agreement((START, CheckCallSchedule()), (change, later)), start=START, end=START + timedelta(days=5))
    assert [(s.start.weekday(), s.start.strftime("%H:%M"), s.terms_version) for s in found] == [
        (0, "09:00", 1), (0, "17:00", 1), (1, "09:00", 1), (1, "17:00", 1), (2, "09:00", 1),
        (2, "12:30", 2), (3, "12:30", 2), (4, "12:30", 2),
    ]
    assert found[-1].caller == "BBB" and found[-1].expected == ("AAA", "CCC")


def test_slot_at_names_only_scheduled_starts() -> None:
    a = agreement((START, CheckCallSchedule()))
    assert slot_at(a, START.replace(hour=17)) is not None
    assert slot_at(a, START.replace(hour=17, minute=1)) is None
    assert slot_at(a, START + timedelta(days=5, hours=9)) is None  # Saturday


def test_disabled_schedule_has_no_slots() -> None:
    assert slots(agreement((START, CheckCallSchedule(enabled=False))), start=START, end=START + timedelta(days=7)) == []


def test_unknown_time_zone_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        CheckCallSchedule(timezone="Mars/Olympus")
