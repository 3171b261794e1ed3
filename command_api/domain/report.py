"""The Report aggregate: a merchant's request for a report, built by the workers."""

from __future__ import annotations

from shared.events import reports as ev

from command_api.domain.aggregate import Aggregate, InvalidState


class Report(Aggregate):
    aggregate_type = ev.AGGREGATE_TYPE

    def request(self, data: ev.ReportRequested) -> None:
        if self.exists:
            raise InvalidState("The report was already requested.")
        self.record(data)

    def on_ReportRequested(self, e: ev.ReportRequested) -> None:
        self.date_from, self.date_to = e.date_from, e.date_to
