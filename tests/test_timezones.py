"""Nothing depends on the server's local zone: the calendar, the quiet hours and the plan
give the same answers with the process in Los Angeles, Tokyo or Kiritimati (UTC+14)."""

from __future__ import annotations

import time

import pytest

from tests.plan import test_settle
from tests.reports import test_simulate
from tests.send import test_dispatcher


@pytest.fixture(params=["America/Los_Angeles", "Asia/Tokyo", "Pacific/Kiritimati"])
def server_zone(request, monkeypatch):
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def test_debtor_calendars(server_zone, make_ws):
    test_simulate.test_each_debtor_s_public_holidays_shift_the_step_to_their_next_open_day(make_ws)


def test_quiet_hours_and_public_holidays(server_zone, make_ws):
    test_dispatcher.test_no_sms_on_the_debtor_s_public_holiday_in_their_own_time_zone(make_ws)


def test_promises_and_plans(server_zone, make_ws):
    test_settle.test_a_broken_promise_resumes_at_the_configured_step_at_once(make_ws)
