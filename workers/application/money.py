"""Formatting minor units for people (emails, SMS, reports)."""

from __future__ import annotations

# ISO-4217 currencies without minor units; everything else here has two decimals.
_ZERO_DECIMAL = {"JPY", "KRW", "VND", "CLP", "ISK", "HUF", "XAF", "XOF"}


def format_money(amount: int, currency: str) -> str:
    if currency in _ZERO_DECIMAL:
        return f"{amount:,} {currency}"
    sign = "-" if amount < 0 else ""
    units, cents = divmod(abs(amount), 100)
    return f"{sign}{units:,}.{cents:02d} {currency}"
