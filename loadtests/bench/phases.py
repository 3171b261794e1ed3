"""Where the projector's time goes in a round, step by step: the wall seconds of each phase
of its batches (``merchant_projector_phase_seconds{stream, phase}``: read, fold, plan,
views, derivations, states, parkings — ``projectors.application.engine``) per event of the
round, printed under the budget table.

The projector answers its ``/metrics`` only while it runs (the bench pauses it outside its
own rounds), so ``Counters`` scrapes it at the end of each of its runs — the warm-up's,
then each round's — and a round's figures are the difference from the scrape before: what
it did in that round and nothing else, since it does nothing while paused. The same scrape
gives its MongoDB operations (``mongodb_ops``, the main table's column). Phases are wall
time (waiting on the store included), not CPU; the streams' handlers run concurrently, so
a round's phases can add up to more than its wall time, and what no phase covers (Kafka's
fetch, decoding, the commit, the invalidation signal) is not in them. A scrape that fails
fails the run: it is our own process, on loopback.
"""

from __future__ import annotations

import httpx

from loadtests.bench.report import markdown_table, spread
from loadtests.bench.rounds import PairResult, RoundResult
from loadtests.bench.stats import Spread
from loadtests.ops import mongodb_operations, phase_seconds

PREFIX = "phase "  # RoundResult.work: "phase <stream>.<phase>" -> seconds
ORDER = ("read", "fold", "plan", "views", "derivations", "states", "parkings")  # the engine's


class Counters:
    """A projector's cumulative counters, scraped at the end of each of its runs."""

    def __init__(self, metrics_url: str):
        self.metrics_url = metrics_url
        self.last: dict[str, float] | None = None

    async def take(self) -> dict[str, float]:
        """The counters' growth since the last ``take`` (nothing the first time)."""
        async with httpx.AsyncClient(timeout=10) as client:
            return self.advance((await client.get(self.metrics_url)).raise_for_status().text)

    def advance(self, metrics_text: str) -> dict[str, float]:
        """``take`` of a scraped ``/metrics`` text."""
        now = {f"{PREFIX}{stream}.{phase}": s for (stream, phase), s in phase_seconds(metrics_text).items()}
        now["mongodb_ops"] = float(sum(mongodb_operations(metrics_text).values()))
        before, self.last = self.last, now
        return {} if before is None else {key: value - before.get(key, 0.0) for key, value in now.items()}


def _per_event_ms(rounds: list[RoundResult]) -> list[dict[tuple[str, str], float]]:
    """Each round that read its phases: (stream, phase) -> ms per event of the round."""
    out = []
    for r in rounds:
        phases = {tuple(key[len(PREFIX) :].split(".", 1)): s for key, s in r.work.items() if key.startswith(PREFIX)}
        if phases and r.operations:
            out.append({key: s * 1000 / r.operations for key, s in phases.items()})
    return out


def _columns(measured: list[dict[tuple[str, str], float]]) -> list[str]:
    seen = {phase for round_ in measured for _, phase in round_}
    return [p for p in ORDER if p in seen] + sorted(seen - set(ORDER))


def _cells(per_round: list[dict[tuple[str, str], float]], phases: list[str], stream: str | None) -> list[str]:
    """A stream's (``None``: every stream's) ms per event by phase, and all its phases."""
    mine = [{k: v for k, v in round_.items() if stream is None or k[0] == stream} for round_ in per_round]
    by_phase = [[sum(v for (_, phase), v in round_.items() if phase == p) for round_ in mine] for p in phases]
    total = [sum(round_.values()) for round_ in mine]
    return [spread(Spread.of(values)) for values in by_phase] + [f"**{spread(Spread.of(total))}**"]


def rows(results: list[PairResult]) -> tuple[list[str], list[list[str]]]:
    """The header and, for our side of each pair that read them, a row per stream and one
    for all streams with the round's wall time per event beside."""
    measured = [(r.pair.name, r.ours, per) for r in results if (per := _per_event_ms(r.ours))]
    phases = _columns([round_ for _, _, per in measured for round_ in per])
    body = []
    for name, rounds, per_round in measured:
        for stream in sorted({stream for round_ in per_round for stream, _ in round_}):
            body.append([name, stream, *_cells(per_round, phases, stream), ""])
        walls = [1000 / r.rate for r in rounds if r.rate]
        body.append([name, "all streams", *_cells(per_round, phases, None), spread(Spread.of(walls)) if walls else "—"])
    header = ["hot path", "stream", *(f"{p} ms/event" for p in phases), "all phases ms/event", "round wall ms/event"]
    return header, body


INTRO = (
    "**Where the projector's time goes** (wall milliseconds per event of the round, by step of its "
    "batches: `merchant_projector_phase_seconds`, scraped from its `/metrics` at the end of each of its "
    "runs). Wall time, waiting on the store included, not CPU; the streams run concurrently, so their "
    "phases can add up to more than the round's wall time; Kafka's fetch, decoding, the commit and the "
    "invalidation signal are in no phase."
)


def section(results: list[PairResult]) -> str | None:
    header, body = rows(results)
    return f"{INTRO}\n\n{markdown_table(header, body)}" if body else None
