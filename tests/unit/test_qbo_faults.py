"""Every QuickBooks fault shape in the recorded traffic gets the right verdict."""

from __future__ import annotations

import pytest

from plugins.quickbooks.faults import classify
from shared.core.http import Response
from tests.reference import REFERENCE, cassette


def verdict_of(recorded):
    return classify(Response(recorded.status, recorded.headers, recorded.body))


def test_recorded_401_lowercase_fault_asks_for_a_refreshed_token_not_a_reconnect():
    # An access token lives an hour and may expire during a fetch: the client refreshes it and asks again;
    # only a refused refresh token (invalid_grant, plugins/quickbooks/oauth.py) says "reconnect this company".
    (recorded,) = cassette("quickbooks/vcr/error/401.yml")
    verdict = verdict_of(recorded)
    assert verdict.kind == "reauth" and verdict.code == "3200"
    assert "refused the access token" in verdict.message and "reconnect" not in verdict.message


def test_an_authorization_fault_fails_and_asks_to_reconnect():
    body = b'{"Fault":{"Error":[{"Message":"AuthorizationFailure","Detail":"no access","code":"3100"}],' \
           b'"type":"AUTHORIZATION"}}'
    verdict = classify(Response(403, {"Content-Type": "application/json"}, body))
    assert verdict.kind == "fail" and verdict.code == "3100" and "reconnect this company" in verdict.message


@pytest.mark.parametrize("name", ["400.yml", "400_json.yml", "validation.yml", "500.yml"])
def test_recorded_validation_faults_fail_with_their_detail(name):
    faults = [r for r in cassette(f"quickbooks/vcr/error/{name}") if r.status >= 400]
    assert faults
    for recorded in faults:
        verdict = verdict_of(recorded)
        assert verdict.kind == "fail"
        assert "QuickBooks rejected the request" in verdict.message
        assert verdict.code and verdict.code.isdigit()


def test_every_recorded_success_is_ok():
    files = sorted((REFERENCE / "quickbooks/vcr").glob("*/*.yml"))
    ok = 0
    for path in files:
        for recorded in cassette(str(path.relative_to(REFERENCE))):
            if recorded.status == 200 and recorded.headers.get("Content-Type", "").startswith("application/json"):
                assert verdict_of(recorded).kind == "ok", path
                ok += 1
    assert ok > 20


def test_query_parser_error_fixture_fails():
    body = (REFERENCE / "quickbooks/exquickbooks-json/api_query_error.json").read_bytes()
    verdict = classify(Response(400, {"Content-Type": "application/json"}, body))
    assert verdict.kind == "fail" and verdict.code == "4000"


def test_json_throttle_fault_becomes_a_wait():
    body = b'{"Fault":{"Error":[{"Message":"message=ThrottleExceeded; errorCode=003001; statusCode=429",' \
           b'"Detail":"Request has been throttled","code":"3001"}],"type":"SERVICE"},"time":"2026-01-01T00:00:00Z"}'
    verdict = classify(Response(429, {"Content-Type": "application/json"}, body), throttle_wait=60)
    assert verdict.kind == "throttle" and verdict.retry_after == 60


def test_xml_throttle_fault_despite_json_accept_becomes_a_wait():
    body = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><IntuitResponse time="2026-01-01T00:00:00Z">'
            b'<Fault type="SERVICE"><Error code="3001"><Message>message=ThrottleExceeded; errorCode=003001; '
            b'statusCode=429</Message><Detail>Request has been throttled</Detail></Error></Fault></IntuitResponse>')
    verdict = classify(Response(429, {"Content-Type": "application/xml"}, body))
    assert verdict.kind == "throttle" and verdict.code == "3001"


def test_fault_inside_a_200_is_not_ok():
    body = b'{"Fault":{"Error":[{"Message":"Invalid query","Detail":"QueryValidationError","code":"4001"}]}}'
    assert classify(Response(200, {"Content-Type": "application/json"}, body)).kind == "fail"


def test_truncated_body_and_5xx_are_retried():
    assert classify(Response(200, {"Content-Type": "application/json"}, b'{"QueryResponse":{"Inv')).kind == "retry"
    assert classify(Response(503, {"Content-Type": "text/html"}, b"<html>down</html>")).kind == "retry"
    assert classify(Response(500, {"Content-Type": "application/json"}, b"")).kind == "retry"


def test_a_body_that_is_not_utf8_is_asked_again():
    body = b'{"QueryResponse":{"Invoice":[{"Id":"1","DocNumber":"\xff"}]}}'
    assert classify(Response(200, {"Content-Type": "application/json"}, body)).kind == "retry"


def test_the_body_is_parsed_once_for_the_classifier_and_the_plugin():
    response = Response(200, {"Content-Type": "application/json"}, b'{"QueryResponse":{"Invoice":[]}}')
    assert classify(response).kind == "ok"
    assert response.json() is response.json() == {"QueryResponse": {"Invoice": []}}
