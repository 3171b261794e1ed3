"""Building a sales report: pure functions from order documents to CSV, summary and PDF.

CSV cells that a spreadsheet would run as a formula (``= + - @``, tab, CR first) are
written with a leading ``'`` (``csv_safe``): a report never carries a customer's formula
to the merchant's spreadsheet.

PDF: fpdf2 — pure Python (no C toolchain, no system fonts), actively maintained, with a
table API; the report's PDF is a summary (totals, per day, per status, top products),
while the CSV lists every order.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fpdf import FPDF

from shared.mongo import Document
from shared.worker_read_models import ReportSummary

from workers.application.money import format_money

CSV_COLUMNS = ("order_id", "placed_at", "status", "customer_email", "item_count", "currency", "total")


@dataclass
class Bucket:
    orders: int = 0
    items: int = 0
    totals: Counter[str] = field(default_factory=Counter)  # currency -> minor units

    def add(self, order: Document) -> None:
        self.orders += 1
        self.items += order.get("item_count", 0)
        self.totals[order["currency"]] += order["total"]


@dataclass
class SalesSummary:
    all: Bucket = field(default_factory=Bucket)
    by_day: dict[str, Bucket] = field(default_factory=lambda: defaultdict(Bucket))
    by_status: dict[str, Bucket] = field(default_factory=lambda: defaultdict(Bucket))
    units_by_product: Counter[str] = field(default_factory=Counter)
    product_names: dict[str, str] = field(default_factory=dict)

    def add(self, order: Document) -> None:
        self.all.add(order)
        self.by_day[_day(order["placed_at"])].add(order)
        self.by_status[order.get("status", "placed")].add(order)
        for line in order.get("lines", []):
            self.units_by_product[line["product_id"]] += line["quantity"]
            self.product_names[line["product_id"]] = f"{line['name']} ({line['sku']})"

    def report_summary(self) -> ReportSummary:
        return ReportSummary(orders=self.all.orders, items=self.all.items, totals=dict(self.all.totals))


def _day(placed_at: datetime | str) -> str:
    return placed_at.date().isoformat() if isinstance(placed_at, datetime) else str(placed_at)[:10]


def csv_row(order: Document) -> list[Any]:
    placed = order["placed_at"]
    return [
        order["_id"],
        placed.isoformat() if isinstance(placed, datetime) else placed,
        order.get("status", ""),
        order.get("customer_email") or order.get("customer", {}).get("email", ""),
        order.get("item_count", 0),
        order["currency"],
        order["total"],
    ]


# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(cell: object) -> object:
    """A text cell that a spreadsheet would take for a formula (a customer e-mail such as
    ``=HYPERLINK(...)&"@x.io"``), with a ``'`` in front as OWASP recommends: shown as
    text, the value still readable. Numbers stay numbers; the csv module quotes the rest."""
    return "'" + cell if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell


def write_csv(orders: list[Document]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows([csv_safe(cell) for cell in csv_row(o)] for o in orders)
    return out.getvalue().encode()


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")  # the core PDF fonts' charset


def _money(totals: Counter[str]) -> str:
    return ", ".join(format_money(v, c) for c, v in sorted(totals.items())) or "0"


def write_pdf(summary: SalesSummary, *, merchant_id: str, date_from: str, date_to: str) -> bytes:
    pdf = FPDF()
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "Sales report", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for text in (
        f"Merchant: {merchant_id}",
        f"Period: {date_from} to {date_to} (UTC)",
        f"Orders: {summary.all.orders}",
        f"Items: {summary.all.items}",
        f"Gross sales: {_money(summary.all.totals)}",
    ):
        pdf.cell(0, 6, _latin1(text), new_x="LMARGIN", new_y="NEXT")
    _table(
        pdf,
        "By status",
        ("Status", "Orders", "Sales"),
        [(s, str(b.orders), _money(b.totals)) for s, b in sorted(summary.by_status.items())],
    )
    top = summary.units_by_product.most_common(10)
    _table(pdf, "Top products", ("Product", "Units"), [(summary.product_names[p], str(units)) for p, units in top])
    _table(
        pdf,
        "By day",
        ("Day", "Orders", "Items", "Sales"),
        [(d, str(b.orders), str(b.items), _money(b.totals)) for d, b in sorted(summary.by_day.items())],
    )
    return bytes(pdf.output())


def _table(pdf: FPDF, title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    with pdf.table(text_align="LEFT", line_height=5) as table:
        table.row(header)
        for row in rows:
            table.row(tuple(_latin1(c) for c in row))
