"""Writing events to files analysts load anywhere: JSON Lines or Parquet.

Parquet has one typed column per envelope field (``occurred_at`` a UTC timestamp,
versions integers, ``data`` the JSON logical type), so DuckDB, pandas and Spark read it
without a schema of their own: ``SELECT type, count(*) FROM 'events.parquet' GROUP BY 1``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Protocol

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from shared.events.envelope import EventEnvelope

PARQUET_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("schema_version", pa.int32(), nullable=False),
        pa.field("aggregate_type", pa.string(), nullable=False),
        pa.field("aggregate_id", pa.string(), nullable=False),
        pa.field("aggregate_version", pa.int64(), nullable=False),
        pa.field("merchant_id", pa.string(), nullable=False),
        pa.field("occurred_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("correlation_id", pa.string(), nullable=False),
        pa.field("causation_id", pa.string()),
        pa.field("data", pa.json_(pa.string()), nullable=False),
    ]
)
FORMATS = ("jsonl", "parquet")


class EventWriter(Protocol):
    counts: Counter[str]

    def write(self, events: list[EventEnvelope]) -> None: ...
    def close(self) -> None: ...


class JsonLinesWriter:
    def __init__(self, path: Path) -> None:
        self._file = path.open("wb")
        self.counts: Counter[str] = Counter()

    def write(self, events: list[EventEnvelope]) -> None:
        self._file.write(b"".join(e.to_json() + b"\n" for e in events))
        self.counts.update(e.type for e in events)

    def close(self) -> None:
        self._file.close()


class ParquetWriter:
    """Buffers rows and writes a row group every ``row_group_size`` events."""

    def __init__(self, path: Path, row_group_size: int = 50_000) -> None:
        self._writer = pq.ParquetWriter(path, PARQUET_SCHEMA, compression="zstd")
        self._rows: list[EventEnvelope] = []
        self._row_group_size = row_group_size
        self.counts: Counter[str] = Counter()

    def write(self, events: list[EventEnvelope]) -> None:
        self._rows.extend(events)
        self.counts.update(e.type for e in events)
        if len(self._rows) >= self._row_group_size:
            self._flush()

    def close(self) -> None:
        self._flush()
        self._writer.close()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(to_table(self._rows))
            self._rows = []


def to_table(events: list[EventEnvelope]) -> pa.Table:
    columns = {
        "event_id": [str(e.event_id) for e in events],
        "type": [e.type for e in events],
        "schema_version": [e.schema_version for e in events],
        "aggregate_type": [e.aggregate_type for e in events],
        "aggregate_id": [e.aggregate_id for e in events],
        "aggregate_version": [e.aggregate_version for e in events],
        "merchant_id": [e.merchant_id for e in events],
        "occurred_at": [e.occurred_at for e in events],
        "correlation_id": [e.correlation_id for e in events],
        "causation_id": [e.causation_id for e in events],
        "data": [orjson.dumps(e.data).decode() for e in events],
    }
    return pa.table(columns, schema=PARQUET_SCHEMA)


def open_writer(path: Path, fmt: str) -> EventWriter:
    if fmt == "jsonl":
        return JsonLinesWriter(path)
    if fmt == "parquet":
        return ParquetWriter(path)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
