"""Event bodies of the Report aggregate (topic ``reports.events``).

A merchant asks for a sales report over a date range; the workers build it (CSV and
PDF from the ``orders`` read model), store it, and email ``notify_email`` the link.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AGGREGATE_TYPE = "report"

ReportFormat = Literal["csv", "pdf"]


def _every_format() -> list[ReportFormat]:
    return ["csv", "pdf"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReportRequested(Body):
    """Orders placed from ``date_from`` (inclusive) to ``date_to`` (inclusive), UTC days."""

    kind: Literal["sales"] = "sales"
    date_from: date
    date_to: date
    notify_email: str | None = None
    formats: list[ReportFormat] = Field(default_factory=_every_format)


EVENTS: tuple[type[Body], ...] = (ReportRequested,)
