"""The metric data layer reads through the SELECT-only role, and SimpleTimeSeries buckets agree with SQL's."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import psycopg
import pytest

from plugins.registry import metric_catalogs
from sandbox.quickbooks.datagen import generate_company
from shared.metrics import refresh_dirty
from shared.metrics.series import MetricReader, SeriesQuery
from shared.metrics.timeseries import SimpleTimeSeries
from tests.metrics.loading import load_records, register

CATALOGS = metric_catalogs()

COARSE = ("week", "month", "quarter", "year", "fiscal_quarter", "fiscal_year")


@pytest.fixture(scope="module")
def loaded(pg_dsn: str):
    """One connection with a generated company whose fiscal year starts in April."""
    cid = "series-layer"
    company = generate_company("9130350000000091", seed=13, records=1200, years=3, fiscal_start_month="April")
    with psycopg.connect(pg_dsn) as conn:
        register(conn, cid)
        load_records(conn, cid, company.records)
        refresh_dirty(conn, cid, CATALOGS)
    return cid


def test_the_reader_reads_metrics_and_may_neither_write_nor_read_raw_records(pg_dsn, loaded):
    reader = MetricReader(pg_dsn, catalogs=CATALOGS)
    frame = reader.frame(SeriesQuery(loaded, "qbo.net_revenue", grain="month"))
    assert len(frame) > 20 and set(frame["member"]) == {""}
    with reader.session() as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "bizmetrics_reader"
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM qbo_invoice")
        with pytest.raises((psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege)):
            conn.execute("DELETE FROM metric_points")


def test_a_dimension_filter_returns_one_series_per_requested_member(pg_dsn, loaded):
    reader = MetricReader(pg_dsn, catalogs=CATALOGS)
    everything = reader.series(SeriesQuery(loaded, "qbo.net_revenue", grain="quarter", dimension="source"))
    assert set(everything) == {"invoice", "sales_receipt", "credit_memo", "refund_receipt"}
    two = reader.series(SeriesQuery(loaded, "qbo.net_revenue", grain="quarter", dimension="source",
                                    members=("invoice", "credit_memo"), start=dt.date(2025, 1, 1),
                                    end=dt.date(2026, 1, 1)))
    assert set(two) == {"invoice", "credit_memo"}
    assert [p[0] for p in two["invoice"].points()] == [dt.date(2025, m, 1) for m in (1, 4, 7, 10)]
    assert (two["credit_memo"].series < 0).all()  # credits count against net revenue


def test_unknown_metrics_grains_and_dimensions_are_refused_with_the_known_ones(pg_dsn, loaded):
    reader = MetricReader(pg_dsn, catalogs=CATALOGS)
    with pytest.raises(KeyError, match=r"qbo\.net_revenue"):
        reader.frame(SeriesQuery(loaded, "qbo.nope"))
    with pytest.raises(ValueError, match="fiscal_year"):
        reader.frame(SeriesQuery(loaded, "qbo.net_revenue", grain="fortnight"))
    with pytest.raises(ValueError, match="source"):
        reader.frame(SeriesQuery(loaded, "qbo.net_revenue", dimension="currency"))


@pytest.mark.parametrize("metric", ["qbo.net_revenue", "qbo.invoice_count", "qbo.open_receivables",
                                    "qbo.overdue_receivables", "qbo.new_customers"])
def test_resampled_days_equal_the_sql_buckets_of_every_coarser_grain(pg_dsn, loaded, metric):
    reader = MetricReader(pg_dsn, catalogs=CATALOGS)
    days = reader.series(SeriesQuery(loaded, metric, grain="day"))[""]
    assert days.fiscal_start == 1  # day buckets carry no fiscal calendar: tell the resampler
    days = SimpleTimeSeries(days.series, "day", how=days.how, fiscal_start=4)
    for grain in COARSE:
        sql_buckets = reader.series(SeriesQuery(loaded, metric, grain=grain))[""]
        resampled = days.resample(grain)
        assert list(resampled.series.index) == list(sql_buckets.series.index), grain
        np.testing.assert_allclose(resampled.series.to_numpy(), sql_buckets.series.to_numpy(), rtol=1e-12)


def test_weekly_buckets_start_on_monday_like_date_trunc_week():
    days = SimpleTimeSeries(pd.Series(1.0, index=pd.date_range("2025-12-28", "2026-01-11")), "day")
    weeks = days.resample("week").points()
    assert weeks == [(dt.date(2025, 12, 22), 1.0), (dt.date(2025, 12, 29), 7.0), (dt.date(2026, 1, 5), 7.0)]


def test_gaps_fill_with_zero_for_flows_and_carry_forward_for_balances():
    points = [(dt.date(2026, 1, 1), 5), (dt.date(2026, 4, 1), 7)]
    flow = SimpleTimeSeries.from_points(points, "month").fill_gaps(0.0, end=dt.date(2026, 5, 1))
    assert [v for _, v in flow.points()] == [5, 0, 0, 7, 0]
    balance = SimpleTimeSeries.from_points(points, "month", how="last").fill_gaps(None)
    assert [v for _, v in balance.points()] == [5, 5, 5, 7]


def test_rolling_windows_and_growth_over_periods():
    months = SimpleTimeSeries(pd.Series([100.0, 110, 121, 0, 50], index=pd.date_range("2026-01-01", periods=5,
                                                                                          freq="MS")), "month")
    assert [round(v, 3) for _, v in months.rolling(3).points()] == [110.333, 77.0, 57.0]
    growth = months.growth()
    assert [round(v, 3) for _, v in growth.points()] == [0.1, 0.1, -1.0]  # from zero is undefined: left out
    assert months.growth(2).points()[0] == (dt.date(2026, 3, 1), pytest.approx(0.21))


def test_a_forecast_follows_trend_and_season_and_its_interval_holds_the_truth():
    rng = np.random.default_rng(3)
    index = pd.date_range("2022-01-01", periods=48, freq="MS")
    season = np.tile([0, 5, 20, 40, 45, 30, 10, 0, -10, -20, -25, -15], 4)
    truth = 100 + 2.0 * np.arange(60) + np.tile(season[:12], 5)
    noisy = truth[:48] + rng.normal(0, 3, 48)
    result = SimpleTimeSeries(pd.Series(noisy, index=index), "month").forecast(12, season_length=12, level=0.95)
    frame = result.frame
    assert list(frame.index) == list(pd.date_range("2026-01-01", periods=12, freq="MS"))
    assert ((frame["lower"] <= truth[48:]) & (truth[48:] <= frame["upper"])).all()
    assert (frame["upper"] - frame["lower"]).is_monotonic_increasing  # farther out, less sure
    assert abs(frame["forecast"].to_numpy() - truth[48:]).max() < 10
