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
    """Point forecasts with a central prediction interval of the given level, indexed by bucket start.

    The fit uses complete periods only (those ended by `as_of`). `excluded` lists the incomplete ones left
    out, with their values so far: the current, partial period (and any later, future-dated bucket). The
    forecast starts at the first period after the last complete one, so the current period is forecast whole.
    """

    frame: pd.DataFrame  # columns: forecast, lower, upper
    level: float
    as_of: dt.date | None = None
    excluded: tuple[tuple[dt.date, float], ...] = ()

    @property
    def partial_period(self) -> str:
        """What was done with the incomplete period, for a caller to show beside the numbers."""
        if not self.excluded:
            return "none: every bucket was complete"
        return (f"excluded: {', '.join(d.isoformat() for d, _ in self.excluded)} not complete on "
                f"{self.as_of}; forecast as a whole period instead")


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
    def split_complete(self, as_of: dt.date) -> tuple[pd.Series, pd.Series]:
        """(complete, incomplete) buckets on `as_of`: a bucket is complete once the day after it has begun."""
        ends = self.series.index + pd.tseries.frequencies.to_offset(self.freq)
        done = ends <= pd.Timestamp(as_of)
        return self.series[done], self.series[~done]

    def forecast(self, horizon: int, *, season_length: int | None = None, level: float = 0.95,
                 as_of: dt.date | None = None) -> Forecast:
        """Linear trend plus, with at least two seasons of history, additive seasonal offsets, fitted jointly
        by least squares; the interval is the trend regression's prediction interval, with the noise measured
        after the seasonal fit.

        Only periods complete on `as_of` (default: today; pass the company's local date) are fitted: the
        current, partial period is excluded rather than scaled (a few days say little about a whole month of
        invoices, and a balance so far is not the period's closing balance), listed in `Forecast.excluded`
        with its value so far, and forecast whole as the first row. Buckets are taken as consecutive: fill
        gaps first.
        """
        as_of = as_of or dt.date.today()
        history, excluded = self.split_complete(as_of)
        y = history.to_numpy(dtype=float)
        n = len(y)
        if n < 3:
            raise ValueError(f"a forecast needs at least 3 complete buckets of history, got {n} complete on "
                             f"{as_of} ({len(excluded)} incomplete left out)")
        t = np.arange(n, dtype=float)
        seasons = season_length if season_length and season_length > 1 and n >= 2 * season_length else 1

        def design(times: np.ndarray) -> np.ndarray:
            # Intercept, slope and one offset per season but the first, fitted jointly: fitting the trend
            # first would bias its slope by the season's shape (exact histories must be continued exactly).
            phase = times.astype(int) % seasons
            return np.column_stack([np.ones_like(times), times, *[(phase == k).astype(float)
                                                                  for k in range(1, seasons)]])

        coefficients = np.linalg.lstsq(design(t), y, rcond=None)[0]
        residual = y - design(t) @ coefficients
        params = 2 + seasons - 1
        sigma = float(np.sqrt((residual ** 2).sum() / max(1, n - params)))
        future = np.arange(n, n + horizon, dtype=float)
        point = design(future) @ coefficients
        sxx = float(((t - t.mean()) ** 2).sum())
        spread = sigma * np.sqrt(1 + 1 / n + (future - t.mean()) ** 2 / sxx)
        z = NormalDist().inv_cdf((1 + level) / 2)
        index = pd.date_range(history.index[-1], periods=horizon + 1, freq=self.freq)[1:]
        frame = pd.DataFrame({"forecast": point, "lower": point - z * spread, "upper": point + z * spread},
                             index=index)
        return Forecast(frame=frame, level=level, as_of=as_of,
                        excluded=tuple((ts.date(), float(v)) for ts, v in excluded.items()))
