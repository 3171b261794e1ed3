"""Pure parts of the analysts' tools: the tail's lines and filters, the contract checker."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from shared.events import EventEnvelope

from merchant_cli.event_tools.stream import EventFilter, format_event, summarise

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("validate_events", ROOT / "scripts" / "validate_events.py")
validate_events = importlib.util.module_from_spec(spec)
spec.loader.exec_module(validate_events)


def event(**overrides) -> EventEnvelope:
    fields = dict(
        type="ProductPriceChanged",
        aggregate_type="product",
        aggregate_id="p1",
        aggregate_version=3,
        merchant_id="m1",
        correlation_id="c1",
        data={"price": {"amount": 1250, "currency": "EUR"}, "previous_price": {"amount": 999, "currency": "EUR"}},
    )
    return EventEnvelope(**{**fields, **overrides})


def test_a_tail_line_says_what_happened_to_what():
    line = format_event(event()).plain
    assert "ProductPriceChanged v1" in line and "p1@3" in line and "merchant=m1" in line
    assert "price=12.50 EUR previous_price=9.99 EUR" in line


def test_long_bodies_are_cut():
    assert len(summarise({"description": "x" * 500}, width=40)) == 40


def test_filters_combine_type_and_merchant():
    wanted = EventFilter(frozenset({"ProductPriceChanged"}), "m1")
    assert wanted.accepts(event())
    assert not wanted.accepts(event(merchant_id="m2"))
    assert not wanted.accepts(event(type="ProductArchived", data={}))
    assert EventFilter().accepts(event(merchant_id="anyone"))


def kcat_message(envelope: dict, key: str | None = None, headers: list | None = None) -> dict:
    """What ``kcat -J`` prints for one message."""
    headers = (
        headers
        if headers is not None
        else ["type", envelope["type"], "schema_version", str(envelope["schema_version"]), "correlation_id", "c1"]
    )
    return {
        "topic": "t",
        "partition": 0,
        "offset": 7,
        "key": key or envelope["aggregate_id"],
        "payload": json.dumps(envelope),
        "headers": headers,
    }


def test_the_checker_accepts_a_valid_event():
    assert (
        validate_events.problems_with(kcat_message(event().model_dump(mode="json")), validate_events.SCHEMAS, {}) == []
    )


def test_the_checker_finds_body_key_header_and_version_problems():
    bad_body = event().model_dump(mode="json")
    bad_body["data"]["price"]["currency"] = "euro"
    assert any(
        "currency" in p for p in validate_events.problems_with(kcat_message(bad_body), validate_events.SCHEMAS, {})
    )
    valid = event().model_dump(mode="json")
    assert any(
        "key" in p for p in validate_events.problems_with(kcat_message(valid, key="other"), validate_events.SCHEMAS, {})
    )
    assert any(
        "headers" in p
        for p in validate_events.problems_with(
            kcat_message(valid, headers=["type", "Nope"]), validate_events.SCHEMAS, {}
        )
    )
    assert any(
        "no published schema" in p
        for p in validate_events.problems_with(
            kcat_message({**valid, "schema_version": 9}), validate_events.SCHEMAS, {}
        )
    )
    assert any(
        "not an event envelope" in p
        for p in validate_events.problems_with(
            {**kcat_message(valid), "payload": "not json"}, validate_events.SCHEMAS, {}
        )
    )
