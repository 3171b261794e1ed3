"""Following the domain topics live, for people: ``merchant events tail``.

The consumer joins no group (it commits nothing and never takes partitions from real
consumers); it reads every partition of the domain topics from the end, or from the
beginning when asked. Each event is shown upcast, on one readable line.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer
from rich.text import Text

from shared.events.envelope import EventEnvelope
from shared.events.upcasting import upcast
from shared.settings import ServerSettings
from shared.topics import DOMAIN_TOPICS

STYLE_BY_AGGREGATE = {"product": "cyan", "order": "magenta", "merchant": "green"}


@dataclass(frozen=True)
class EventFilter:
    types: frozenset[str] = frozenset()
    merchant_id: str | None = None

    def accepts(self, event: EventEnvelope) -> bool:
        return (not self.types or event.type in self.types) and (
            self.merchant_id is None or event.merchant_id == self.merchant_id
        )


def summarise(data: dict[str, Any], width: int = 90) -> str:
    """``key=value`` pairs of the body, nested values compacted, cut to ``width``."""
    parts = []
    for key, value in data.items():
        if isinstance(value, dict) and {"amount", "currency"} <= value.keys():
            value = f"{value['amount'] / 100:.2f} {value['currency']}"
        elif isinstance(value, (dict, list)):
            value = f"[{len(value)}]" if isinstance(value, list) else "{…}"
        parts.append(f"{key}={value}")
    text = " ".join(parts)
    return text if len(text) <= width else text[: width - 1] + "…"


def format_event(event: EventEnvelope) -> Text:
    line = Text()
    line.append(event.occurred_at.strftime("%H:%M:%S.%f")[:-3], style="dim")
    line.append("  ")
    line.append(
        f"{event.type} v{event.schema_version}", style=f"bold {STYLE_BY_AGGREGATE.get(event.aggregate_type, 'white')}"
    )
    line.append(f"  {event.aggregate_id}@{event.aggregate_version}")
    line.append(f"  merchant={event.merchant_id}", style="dim")
    line.append(f"  {summarise(event.data)}")
    return line


async def follow(
    settings: ServerSettings, *, from_beginning: bool = False, idle_exit: float | None = None
) -> AsyncIterator[EventEnvelope | str]:
    """Events as they arrive (upcast), or a message string for one that cannot be read.

    With ``idle_exit``, stops after that many seconds without a new message.
    """
    consumer = AIOKafkaConsumer(
        *(settings.topic(t) for t in DOMAIN_TOPICS),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=int((idle_exit or 1.0) * 1000))
            if not batches and idle_exit is not None:
                return
            for records in batches.values():
                for record in records:
                    try:
                        yield upcast(EventEnvelope.from_json(record.value))
                    except ValueError as exc:
                        yield f"unreadable message {record.topic}/{record.partition}@{record.offset}: {exc}"
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
