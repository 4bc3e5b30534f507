"""The anonymous consent callback refuses what is malformed before any I/O: no database connection is opened and
no key material is read for a garbled state, a missing or garbled browser cookie, or a realmId that is not ASCII
digits. (The whole flow against PostgreSQL and the simulator: tests/integration/oauth/test_qbo_oauth_consent.py.)"""

from __future__ import annotations

import pytest

from shared.tokens import crypto
from tests import fastapi_app

routes = fastapi_app.import_routes("plugins.quickbooks.routes")
STATE = "S" * 43
NONCE = "N" * 43
COOKIE = {"Cookie": f"{routes.CONSENT_COOKIE}={NONCE}", "Accept": "application/json"}


class IOAttempted(Exception):
    """Raised by the stand-ins for the database and the key store. An ordinary exception on purpose: pytest's own
    outcome exceptions are BaseExceptions, which tear down the TestClient's event-loop portal mid-request and
    surface as "This portal is not running" instead of the failure they carry."""


def no_io(*_: object) -> None:
    raise IOAttempted("the callback opened the database or read key material for a request it must refuse first")


@pytest.fixture
def callback(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(crypto, "secrets_provider", no_io)
    client = fastapi_app.client(routes, operator=None)
    client.app.dependency_overrides[routes.database] = lambda: no_io

    def call(params: dict[str, str], headers: dict[str, str] | None = None):
        return client.get(routes.PREFIX + "/callback", params=params, headers=COOKIE if headers is None else headers)
    return call


@pytest.mark.parametrize("state", [
    "", "short", "S" * 42, "S" * 44, "S" * 42 + "\n", "S" * 42 + "=", "S" * 42 + "é", "S" * 42 + "\x00",
    "S" * 21 + " " + "S" * 21, "' OR 1=1 --" + "S" * 32, "S" * 99,
])
def test_a_malformed_state_is_refused_before_any_io(callback, state: str):
    response = callback({"code": "c", "state": state, "realmId": "123"})
    assert response.status_code in (400, 422), response.text
    if response.status_code == 400:
        assert response.json()["code"] == "consent_refused"
        assert "state" in response.json()["detail"]


def test_a_state_that_is_not_utf8_on_the_wire_is_refused_before_any_io(callback):
    client = fastapi_app.client(routes, operator=None)
    client.app.dependency_overrides[routes.database] = lambda: no_io
    # A lone surrogate as a browser would percent-encode it: not valid UTF-8.
    response = client.get(routes.PREFIX + "/callback?code=c&realmId=1&state=" + "S" * 42 + "%ED%A0%80", headers=COOKIE)
    assert response.status_code in (400, 422), response.text


@pytest.mark.parametrize("realm", ["", "12a", "١٢٣", "123\n", " 123", "-1", "1e5", "1" * 33])
def test_a_realm_id_that_is_not_ascii_digits_is_refused_before_any_io(callback, realm: str):
    response = callback({"code": "c", "state": STATE, "realmId": realm})
    assert response.status_code in (400, 422), response.text
    if response.status_code == 400:
        assert "realmId must be the company's numeric id (ASCII digits)" in response.json()["detail"]


@pytest.mark.parametrize("code", ["", "has space", "tab\there", "nul\x00", "é" * 3, "c" * 513])
def test_a_malformed_code_is_refused_before_any_io(callback, code: str):
    response = callback({"code": code, "state": STATE, "realmId": "123"})
    assert response.status_code in (400, 422), response.text


def test_a_callback_without_the_consent_cookie_is_refused_before_any_io(callback):
    response = callback({"code": "c", "state": STATE, "realmId": "123"}, headers={"Accept": "application/json"})
    assert response.status_code == 400 and "consent cookie is missing" in response.json()["detail"]


@pytest.mark.parametrize("cookie", ["short", "N" * 44, "N" * 42 + "%0A"])
def test_a_malformed_consent_cookie_is_refused_before_any_io(callback, cookie: str):
    headers = {"Cookie": f"{routes.CONSENT_COOKIE}={cookie}", "Accept": "application/json"}
    response = callback({"code": "c", "state": STATE, "realmId": "123"}, headers=headers)
    assert response.status_code == 400 and "cookie" in response.json()["detail"]


def test_a_garbled_error_parameter_is_refused_before_any_io(callback):
    response = callback({"error": "<script>alert(1)</script>", "state": STATE})
    assert response.status_code == 400 and "<script>" not in response.text


def test_a_well_formed_callback_does_reach_the_database(callback):
    """The guard above is not vacuous: a well-formed callback gets past the checks to the first I/O."""
    with pytest.raises(IOAttempted, match="opened the database or read key material"):
        callback({"code": "c", "state": STATE, "realmId": "123"})
