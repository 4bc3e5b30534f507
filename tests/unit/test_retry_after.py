"""One Retry-After reader (RFC 9110 section 10.2.3): delta-seconds or an HTTP-date, honoured by both plugins."""

from __future__ import annotations

import datetime as dt
import json
from email.utils import format_datetime

import pytest

from plugins.monday.errors import DEFAULT_THROTTLE_SECONDS
from plugins.monday.errors import classify as monday_classify
from plugins.quickbooks.faults import THROTTLE_WAIT_SECONDS
from plugins.quickbooks.faults import classify as quickbooks_classify
from shared.core.http import Response, retry_after_seconds

NOW = dt.datetime(2015, 10, 21, 7, 27, tzinfo=dt.UTC)


@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120.0), (" 7 ", 7.0), ("0", 0.0),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),  # IMF-fixdate, the form senders must use
    ("Wednesday, 21-Oct-15 07:28:00 GMT", 60.0),  # obsolete RFC 850 form, which recipients must accept
    ("Wed Oct 21 07:28:00 2015", 60.0),  # obsolete asctime form
    ("Tue, 20 Oct 2015 07:28:00 GMT", 0.0),  # a date already past: ask again now
])
def test_delta_seconds_and_every_http_date_form_become_seconds_from_now(value, seconds):
    assert retry_after_seconds(value, now=NOW) == seconds


@pytest.mark.parametrize("value", [None, "", "-5", "1.5", "soon", "²"])
def test_an_absent_or_unreadable_value_is_none_so_the_caller_uses_its_own_wait(value):
    assert retry_after_seconds(value, now=NOW) is None


def test_the_header_is_found_whatever_its_case():
    assert Response(429, {"retry-after": "9"}, b"").retry_after() == 9.0
    assert Response(429, {}, b"").retry_after() is None


def in_two_minutes() -> str:
    return format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120), usegmt=True)


def test_monday_waits_until_an_http_date_retry_after_and_otherwise_its_default():
    body = json.dumps({"errors": [{"message": "rate limit", "extensions": {"code": "RATE_LIMIT_EXCEEDED"}}]}).encode()
    dated = monday_classify(Response(429, {"Content-Type": "application/json", "Retry-After": in_two_minutes()}, body))
    assert dated.kind == "throttle" and 100 <= dated.retry_after <= 120
    unreadable = monday_classify(Response(429, {"Content-Type": "application/json", "Retry-After": "soon"}, body))
    assert unreadable.retry_after == DEFAULT_THROTTLE_SECONDS


def test_quickbooks_waits_until_an_http_date_retry_after_and_at_least_a_second():
    body = b'{"Fault":{"Error":[{"Message":"ThrottleExceeded","Detail":"slow down","code":"3001"}]}}'
    dated = quickbooks_classify(Response(429, {"Content-Type": "application/json", "Retry-After": in_two_minutes()},
                                         body))
    assert dated.kind == "throttle" and 100 <= dated.retry_after <= 120
    zero = quickbooks_classify(Response(429, {"Content-Type": "application/json", "Retry-After": "0"}, body))
    assert zero.retry_after == 1.0
    absent = quickbooks_classify(Response(429, {"Content-Type": "application/json"}, body))
    assert absent.retry_after == THROTTLE_WAIT_SECONDS
