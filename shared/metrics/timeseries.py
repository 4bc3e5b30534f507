"""SimpleTimeSeries: one metric's buckets as a pandas Series, for derived views (resampling, gap filling,
rolling windows, period-over-period growth, a simple forecast with a prediction interval).

Buckets are labelled by their first day, as metric_points stores them; weekly buckets are Monday-based
like `date_trunc('week')` (pandas `W-MON`, closed and labelled on the left), fiscal quarters and years
start on the 1st of the fiscal start month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from shared.metrics.calendar import GRAINS

_MONTH_ABBR = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
HOW = ("sum", "last", "mean", "max", "min")


def frequency(grain: str, fiscal_start: int = 1) -> str:
    """The pandas frequency whose periods start where metric_bucket(grain, ..) buckets do."""
    month = _MONTH_ABBR[fiscal_start - 1]
    table = {"day": "D", "week": "W-MON", "month": "MS", "quarter": "QS-JAN", "year": "YS-JAN",
             "fiscal_quarter": f"QS-{month}", "fiscal_year": f"YS-{month}"}
    if grain not in table:
        raise ValueError(f"unknown grain {grain!r}; use one of {', '.join(GRAINS)}")
    return table[grain]


@dataclass(frozen=True)
class Forecast:
    """Point forecasts with a central prediction interval of the given level, indexed by bucket start."""

    frame: pd.DataFrame  # columns: forecast, lower, upper
    level: float


class SimpleTimeSeries:
    """Values indexed by bucket start (a DatetimeIndex of midnights), at one grain.

    `how` says how buckets combine when made coarser: "sum" for flows, "last" for balances, "mean"
    for averages (an approximation: a mean of means).
    """

    def __init__(self, values: pd.Series, grain: str, *, how: str = "sum", fiscal_start: int = 1,
                 name: str = "") -> None:
        if how not in HOW:
            raise ValueError(f"how must be one of {HOW}")
        frequency(grain, fiscal_start)
        index = pd.DatetimeIndex(pd.to_datetime(values.index)).normalize()
        self.series = pd.Series(values.to_numpy(dtype=float), index=index, name=name or values.name).sort_index()
        self.grain, self.how, self.fiscal_start = grain, how, fiscal_start

    @classmethod
    def from_points(cls, points: Iterable[tuple[dt.date, object]], grain: str, **kwargs: object) -> SimpleTimeSeries:
        pairs = list(points)
        values = pd.Series([float(v) for _, v in pairs], index=pd.to_datetime([b for b, _ in pairs]), dtype=float)
        return cls(values, grain, **kwargs)  # type: ignore[arg-type]

    def _like(self, series: pd.Series, grain: str | None = None) -> SimpleTimeSeries:
        return SimpleTimeSeries(series, grain or self.grain, how=self.how, fiscal_start=self.fiscal_start,
                                name=str(self.series.name or ""))

    @property
    def freq(self) -> str:
        return frequency(self.grain, self.fiscal_start)

    def points(self) -> list[tuple[dt.date, float]]:
        return [(ts.date(), float(v)) for ts, v in self.series.items()]

    # -- reshaping -------------------------------------------------------------------------------
    def resample(self, grain: str, how: str | None = None) -> SimpleTimeSeries:
        """Coarser buckets (week, month, quarter, year, fiscal_*), combined by `how` (default self.how)."""
        combine = how or self.how
        rule = frequency(grain, self.fiscal_start)
        grouped = self.series.resample(rule, closed="left", label="left")
        out = getattr(grouped, combine)()
        if combine in ("sum", "mean", "last", "max", "min"):
            counts = grouped.count()
            out = out[counts > 0]  # a bucket without any source bucket stays absent, as in metric_points
        return self._like(out, grain)

    def fill_gaps(self, value: float | None = 0.0, *, start: dt.date | None = None,
                  end: dt.date | None = None) -> SimpleTimeSeries:
        """Every bucket from start (or the first) to end (or the last): missing flows are `value`; with
        value None the previous value carries forward (balances)."""
        if self.series.empty and (start is None or end is None):
            return self._like(self.series)
        first = pd.Timestamp(start) if start else self.series.index[0]
        last = pd.Timestamp(end) if end else self.series.index[-1]
        index = pd.date_range(first, last, freq=self.freq)
        filled = self.series.reindex(index)
        filled = filled.ffill() if value is None else filled.fillna(value)
        return self._like(filled)

    def rolling(self, window: int, how: str = "mean", *, min_periods: int | None = None) -> SimpleTimeSeries:
        """A rolling `how` over the last `window` buckets (fill gaps first for calendar windows)."""
        rolled = getattr(self.series.rolling(window, min_periods=min_periods or window), how)()
        return self._like(rolled.dropna())

    def growth(self, periods: int = 1) -> SimpleTimeSeries:
        """Period-over-period growth as a fraction (0.1 = +10%); periods=12 on months is year over year.
        A change from zero is undefined and left out."""
        previous = self.series.shift(periods)
        change = (self.series - previous) / previous.abs()
        return self._like(change.replace([np.inf, -np.inf], np.nan).dropna())

    # -- forecasting -----------------------------------------------------------------------------
    def forecast(self, horizon: int, *, season_length: int | None = None, level: float = 0.95) -> Forecast:
        """Linear trend (least squares) plus, with at least two seasons of history, additive seasonal
        offsets; the interval is the regression's prediction interval widened by the seasonal fit."""
        y = self.series.to_numpy(dtype=float)
        n = len(y)
        if n < 3:
            raise ValueError("a forecast needs at least 3 buckets of history")
        t = np.arange(n, dtype=float)
        slope, intercept = np.polyfit(t, y, 1)
        residual = y - (intercept + slope * t)
        seasonal = np.zeros(season_length or 1)
        if season_length and n >= 2 * season_length:
            seasonal = np.array([residual[i::season_length].mean() for i in range(season_length)])
            residual = residual - seasonal[np.arange(n) % season_length]
        params = 2 + (season_length - 1 if season_length and n >= 2 * season_length else 0)
        sigma = float(np.sqrt((residual ** 2).sum() / max(1, n - params)))
        future = np.arange(n, n + horizon, dtype=float)
        point = intercept + slope * future + seasonal[future.astype(int) % len(seasonal)]
        sxx = float(((t - t.mean()) ** 2).sum())
        spread = sigma * np.sqrt(1 + 1 / n + (future - t.mean()) ** 2 / sxx)
        z = NormalDist().inv_cdf((1 + level) / 2)
        index = pd.date_range(self.series.index[-1], periods=horizon + 1, freq=self.freq)[1:]
        frame = pd.DataFrame({"forecast": point, "lower": point - z * spread, "upper": point + z * spread},
                             index=index)
        return Forecast(frame=frame, level=level)
