"""SimpleTimeSeries forecasts fit complete periods only: the current, partial one is left out and forecast whole.

Known answers: an exact flat, linear or seasonal history must be continued exactly.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from shared.metrics.timeseries import SimpleTimeSeries


def months(values: list[float], start: str = "2025-01-01") -> SimpleTimeSeries:
    return SimpleTimeSeries(pd.Series(values, index=pd.date_range(start, periods=len(values), freq="MS")), "month")


def test_a_flat_3100_a_month_history_three_days_into_a_month_forecasts_3100_not_2615():
    # The case reported in issue 8: 22 months of 3,100, then November 2026 holding its first 3 days (310).
    series = months([3100.0] * 22 + [310.0])
    result = series.forecast(3, as_of=dt.date(2026, 11, 4))
    assert list(result.frame.index) == list(pd.date_range("2026-11-01", periods=3, freq="MS"))
    np.testing.assert_allclose(result.frame["forecast"], 3100.0)
    np.testing.assert_allclose(result.frame[["lower", "upper"]], 3100.0)  # an exact fit leaves no doubt
    assert result.excluded == ((dt.date(2026, 11, 1), 310.0),)
    assert result.partial_period.startswith("excluded: 2026-11-01 not complete on 2026-11-04")


def test_a_linear_trend_is_continued_exactly_from_the_partial_month_on():
    complete = [1000.0 + 50 * t for t in range(24)]
    series = months([*complete, 120.0])  # the 25th month, a few days in
    result = series.forecast(6, as_of=dt.date(2027, 1, 5))
    np.testing.assert_allclose(result.frame["forecast"], [1000.0 + 50 * t for t in range(24, 30)])
    assert result.frame.index[0] == pd.Timestamp("2027-01-01")


def test_trend_and_season_are_continued_exactly():
    season = [0, 5, 20, 40, 45, 30, 10, 0, -10, -20, -25, -15]
    truth = [100 + 2.0 * t + season[t % 12] for t in range(48)]
    series = months([*truth[:36], 7.0], start="2023-01-01")  # January 2026, barely begun
    result = series.forecast(12, season_length=12, as_of=dt.date(2026, 1, 2))
    np.testing.assert_allclose(result.frame["forecast"], truth[36:], atol=1e-9)


def test_today_is_not_a_complete_day():
    days = pd.Series([100.0] * 30 + [20.0], index=pd.date_range("2026-11-01", periods=31, freq="D"))
    result = SimpleTimeSeries(days, "day").forecast(2, as_of=dt.date(2026, 12, 1))
    assert result.excluded == ((dt.date(2026, 12, 1), 20.0),)
    np.testing.assert_allclose(result.frame["forecast"], 100.0)


def test_a_complete_history_is_fitted_whole_and_says_so():
    result = months([10.0, 20.0, 30.0]).forecast(1, as_of=dt.date(2025, 4, 1))
    assert result.excluded == () and result.partial_period == "none: every bucket was complete"
    assert result.frame["forecast"].iloc[0] == pytest.approx(40.0)


def test_too_few_complete_periods_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="at least 3 complete buckets of history, got 2 complete on 2025-03-10"):
        months([10.0, 20.0, 3.0]).forecast(1, as_of=dt.date(2025, 3, 10))
