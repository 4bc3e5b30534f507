"""A QuickBooks connection's settings: its config, else the app setting of the same name as before the move
out of shared/core/config.py (QBO_*), else the default; read once, frozen, and a bad value says what to fix."""

from __future__ import annotations

import dataclasses

import pytest

from plugins.quickbooks import PLUGIN
from plugins.quickbooks.settings import read_settings, token_url
from shared.db.connections import Connection

APP_SETTINGS = ("QBO_BASE_URL", "QBO_MINOR_VERSION", "QBO_MONTHLY_READ_QUOTA", "QBO_QUOTA_STOP_SHARE", "QBO_TOKEN_URL")


def conn(**config) -> Connection:
    return Connection("qbo-x", "quickbooks", "X", {"realm_id": "1", **config})


@pytest.fixture(autouse=True)
def no_app_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in APP_SETTINGS:
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_intuits_production_host_minor_version_75_and_the_monthly_quota():
    settings = read_settings(conn())
    assert (settings.base_url, settings.minor_version) == ("https://quickbooks.api.intuit.com", 75)
    assert (settings.monthly_read_quota, settings.quota_stop_share) == (500_000, 0.9)
    assert read_settings(conn(environment="sandbox")).base_url == "https://sandbox-quickbooks.api.intuit.com"
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.minor_version = 80  # type: ignore[misc]


def test_app_settings_keep_their_names(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QBO_BASE_URL", "http://127.0.0.1:8761/")
    monkeypatch.setenv("QBO_MINOR_VERSION", "76")
    monkeypatch.setenv("QBO_MONTHLY_READ_QUOTA", "1000")
    monkeypatch.setenv("QBO_QUOTA_STOP_SHARE", "0.5")
    monkeypatch.setenv("QBO_TOKEN_URL", "http://127.0.0.1:9/token")
    settings = read_settings(conn())
    assert (settings.base_url, settings.minor_version) == ("http://127.0.0.1:8761", 76)
    assert (settings.monthly_read_quota, settings.quota_stop_share) == (1000, 0.5)
    assert token_url({}) == "http://127.0.0.1:9/token"


def test_a_connections_config_wins_over_the_app_settings(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QBO_BASE_URL", "http://127.0.0.1:8761")
    monkeypatch.setenv("QBO_MINOR_VERSION", "76")
    settings = read_settings(conn(base_url="http://127.0.0.1:1", minor_version=77, monthly_read_quota=10,
                                  quota_stop_share=1))
    assert (settings.base_url, settings.minor_version, settings.monthly_read_quota, settings.quota_stop_share) == (
        "http://127.0.0.1:1", 77, 10, 1.0)


@pytest.mark.parametrize(("config", "env", "message"), [
    ({}, {"QBO_MINOR_VERSION": "74"}, "QBO_MINOR_VERSION must be 75 or later"),
    ({}, {"QBO_MINOR_VERSION": "latest"}, "App setting QBO_MINOR_VERSION must be a whole number, got 'latest'"),
    ({"minor_version": 70}, {}, "Connection qbo-x: minor_version must be 75 or later"),
    ({"environment": "staging"}, {}, "Connection qbo-x: environment must be sandbox or production"),
])
def test_a_bad_setting_refuses_the_run_before_any_call_saying_what_to_fix(config, env, message,
                                                                          monkeypatch: pytest.MonkeyPatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        read_settings(conn(**config))
    plan = PLUGIN.plan(conn(**config), "full", {}, calls_this_month=0)
    assert plan.streams == [] and message in plan.refused
