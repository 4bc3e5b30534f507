"""Metrics as the API serves them: the catalog, a series, a forecast with its interval."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class MetricInfo(BaseModel):
    name: str
    title: str
    plugin: str
    aggregation: str
    unit: str
    description: str
    dimensions: list[str]
    grains: list[str]
    sources: list[str]


class MetricCatalog(BaseModel):
    metrics: list[MetricInfo]


class Point(BaseModel):
    bucket: dt.date = Field(description="The bucket's first day")
    value: str = Field(description="Decimal as text (exact)")
    count: int = Field(description="How many source rows the bucket aggregates")


class MemberSeries(BaseModel):
    member: str = Field(description='The dimension member; "" for the total')
    points: list[Point]


class Series(BaseModel):
    metric: str
    connection_id: str
    grain: str
    dimension: str
    series: list[MemberSeries]
    refused: bool = Field(False, description=(
        "The connection's records hold values PostgreSQL cannot aggregate for this metric (e.g. amounts whose sum "
        "overflows numeric): the points are as of the last refresh that could compute them, and every sync tries "
        "again until the source corrects the records"))


class ForecastPoint(BaseModel):
    bucket: dt.date
    forecast: float
    lower: float
    upper: float


class ExcludedBucket(BaseModel):
    bucket: dt.date
    value_so_far: float


class ForecastOut(BaseModel):
    metric: str
    connection_id: str
    grain: str
    level: float = Field(description="The prediction interval's coverage, e.g. 0.95")
    as_of: dt.date = Field(description="Buckets complete on this day (UTC) were fitted")
    partial_period: str = Field(description="What was done with the current, incomplete bucket")
    excluded: list[ExcludedBucket]
    points: list[ForecastPoint]
