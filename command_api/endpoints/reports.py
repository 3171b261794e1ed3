"""Report commands: ``POST /v1/reports`` asks the workers for a sales report.

The answer is 202 with the report id; the report's status and files are on the query
API (``GET /v1/reports/{id}``), and ``notify_email`` receives the link when it is ready.
"""

from __future__ import annotations

from datetime import date

from typing import Literal

from pydantic import Field, model_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.events import reports as ev

from command_api.commands import Command
from command_api.domain.report import Report
from command_api.endpoints.execute import execute
from command_api.event_store import Commit
from command_api.handlers import Services
from command_api.repository import CommandContext

MAX_DAYS = 366


class RequestReport(Command):
    kind: Literal["sales"] = "sales"
    date_from: date
    date_to: date
    notify_email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    formats: list[ev.ReportFormat] = Field(default_factory=lambda: ["csv", "pdf"], min_length=1, max_length=2)

    @model_validator(mode="after")
    def range_is_sensible(self) -> RequestReport:
        if self.date_to < self.date_from:
            raise ValueError("date_to must not be before date_from")
        if (self.date_to - self.date_from).days >= MAX_DAYS:
            raise ValueError(f"a report covers at most {MAX_DAYS} days")
        self.formats = sorted(set(self.formats))
        return self


async def request_report(cmd: RequestReport, ctx: CommandContext, svc: Services) -> Commit:
    report = Report(ctx.new_aggregate_id(), ctx.merchant_id)
    report.request(ev.ReportRequested(**cmd.model_dump()))
    return await svc.repository.save(report, ctx)


async def post_report(request: Request) -> Response:
    return await execute(request, RequestReport, request_report, resource="reports")


routes = [
    Route("/v1/reports", post_report, methods=["POST"]),
]
