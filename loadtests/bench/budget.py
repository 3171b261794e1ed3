"""What one operation (a command, an event) costs the whole machine, by process, on both
sides of a pair, and the rate that cost allows on this machine. One piece of code for every
group that meters its pairs (the commands, the projectors); each group names its process
under test and what the bench process does on each side (``Subject``).

On a small machine every side shares the same cores with the servers (FerretDB, its
PostgreSQL, Kafka) and with the bench's own process, so a side's CPU per operation summed
over those processes bounds its rate: at ``sum_ms`` milliseconds of CPU per operation,
``cores × 1000 ÷ sum_ms`` operations per second is the **ceiling** however little anything
waits. Each round of a metered pair reads, before and after (``metered``, with
``loadtests.ops.Meter``): the process under test (the command API with its relay, or the
projector process; idle during the baseline's round), the servers found by
``loadtests.processes`` (PostgreSQL with every backend), this process (the HTTP client or
the waiting of our side, the raw loop of the baseline: ``RUSAGE_SELF``, the meter's own
readings included) and the machine's busy seconds — what no listed process accounts for is
"not attributed" (other work on the machine, a server not found).

A server that cannot be found is a ``—`` column, left out of the sum (its CPU then shows as
not attributed), never guessed. A process that cannot be read counts 0 (``loadtests.ops``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from loadtests.bench.report import markdown_table, spread
from loadtests.bench.rounds import PairResult, RoundResult, RunRound
from loadtests.bench.stats import Spread, paired_ratios
from loadtests.ops import Meter, Watched
from loadtests.processes import server_pids

UNDER_TEST = "process under test"
BENCH = "bench process"
# (Meter name, column) of the servers, in the table's order; the names are loadtests.processes'.
SERVER_COLUMNS = [
    ("FerretDB", "FerretDB"),
    ("PostgreSQL (postmaster + children)", "PostgreSQL"),
    ("Kafka (JVM)", "Kafka"),
]
SERVERS = [name for name, _ in SERVER_COLUMNS]
PROCESSES = [UNDER_TEST, *SERVERS, BENCH]  # the Meter names of the table's columns, in order


@dataclass(frozen=True)
class Subject:
    """How one group's table names its operation and its processes."""

    group: str  # the pairs' ``Pair.group``
    operation: str  # what one operation is, in the paragraph: "command", "event"
    unit: str  # and in the columns: "op" (CPU ms/op), "event"
    under_test: str  # the process under test: "command API (+ relay)"
    bench: str  # what the bench process does, ours / the baseline's: "client / raw loop"


def meter(pid: int, env: Mapping[str, str], metrics_url: str | None = None) -> Meter:
    """Readings of the process under test (``pid``, as ``UNDER_TEST``; its ``/metrics``
    only where it answers at both readings), the servers of ``env`` that can be found, this
    process (``BENCH``) and the machine."""
    found = server_pids(env)
    servers = [Watched(name, found[name]) for name in SERVERS if name in found]
    return Meter([Watched(UNDER_TEST, pid, metrics_url), *servers], harness=BENCH)


def metered(
    run_round: RunRound, meter: Meter, settled: Callable[[], Awaitable[None]] | None = None, *, counts: bool = False
) -> RunRound:
    """The round, with every metered process's CPU over it (``usage``); ``settled``: waited
    for before the second reading (the command API's commits published); ``counts`` (our
    side): the process under test's work in ``work`` too — its CPU seconds, and its MongoDB
    operations where the meter scraped them and the round did not count its own."""

    async def run(number: int) -> RoundResult:
        before = await asyncio.to_thread(meter.read)
        result = await run_round(number)
        if settled is not None:
            await settled()
        result.usage = work = Meter.between(before, await asyncio.to_thread(meter.read))
        if counts:
            result.work.setdefault("mongodb_ops", work.total_operations)
            result.work["cpu_seconds"] = work.cpu[UNDER_TEST]
        return result

    return run


def cost_ms(result: RoundResult) -> dict[str, float] | None:
    """A round's CPU ms per successful operation: each listed process that was read, their
    ``sum``, the ``machine``'s and ``not attributed`` (machine − sum); ``None`` when the
    round was not metered or did nothing."""
    if result.usage is None or not result.operations:
        return None
    per = {name: result.usage.cpu[name] * 1000 / result.operations for name in PROCESSES if name in result.usage.cpu}
    machine = result.usage.machine_cpu * 1000 / result.operations
    total = sum(per.values())
    cost = {**per, "sum": total, "machine": machine, "not attributed": machine - total}
    # differences of large counters: drop the float noise below a picosecond, which would
    # otherwise print as a remainder of -0.00000000000017 ms
    return {name: round(ms, 9) + 0.0 for name, ms in cost.items()}  # + 0.0: no -0.0


def ceiling(sum_ms: float, cores: int) -> float:
    """Operations per second that ``cores`` allow at ``sum_ms`` of CPU each."""
    return cores * 1000 / sum_ms if sum_ms > 0 else float("inf")


def _side_row(name: str, side: str, rounds: list[RoundResult], cores: int, baseline: list[RoundResult] | None):
    costs = [(r, c) for r in rounds if (c := cost_ms(r)) is not None]
    if not costs:
        return None

    def of(key: str) -> str:
        values = [c[key] for _, c in costs if key in c]
        return spread(Spread.of(values)) if values else "—"

    ceilings = [ceiling(c["sum"], cores) for _, c in costs]
    used = [r.rate / top * 100 for (r, _), top in zip(costs, ceilings, strict=True)]
    allowed = "—"
    if baseline is not None and len(baseline) == len(rounds) == len(costs):
        # ours' ceiling against the baseline's measured rate, round by round: the best
        # ours ÷ baseline ratio ours' CPU cost allows, however little anything waits
        allowed = f"**{spread(paired_ratios(ceilings, [b.rate for b in baseline]))}**"
    return [
        name,
        side,
        spread(Spread.of([r.rate for r, _ in costs])),
        *(of(key) for key in PROCESSES),
        f"**{of('sum')}**",
        of("machine"),
        of("not attributed"),
        spread(Spread.of(ceilings)),
        spread(Spread.of(used), "%"),
        allowed,
    ]


def rows(results: list[PairResult], cores: int) -> list[list[str]]:
    """Two rows a metered pair (ours, then its baseline); pairs not metered are left out."""
    out = []
    for r in results:
        for side, rounds, baseline in (("ours", r.ours, r.baseline), ("baseline", r.baseline, None)):
            if (row := _side_row(r.pair.name, side, rounds, cores, baseline)) is not None:
                out.append(row)
    return out


def header(subject: Subject) -> list[str]:
    per = f"ms/{subject.unit}"
    columns = [subject.under_test, *(column for _, column in SERVER_COLUMNS), f"bench process ({subject.bench})"]
    return [
        "hot path",
        "side",
        "rate /s",
        *(f"{column} CPU {per}" for column in columns),
        f"sum {per}",
        f"machine {per}",
        f"not attributed {per}",
        "ceiling /s (cores × 1000 ÷ sum)",
        "rate ÷ ceiling",
        "ours' ceiling ÷ baseline rate",
    ]


INTRO = (
    "**What one {operation} costs the whole machine** (the {group}). For both sides of each pair, "
    "the CPU milliseconds per successful {operation} of each process, read with psutil before and after "
    "every round (user + system, children included: PostgreSQL's backends): the process under test "
    "({under_test}; idle during the baseline's round), FerretDB, PostgreSQL, Kafka, and the bench process "
    "itself (ours / the baseline's: {bench}). "
    "Their sum bounds the rate on this machine: at that cost its {cores} cores allow at most "
    "`cores × 1000 ÷ sum` {operation}s per second, however little anything waits (the ceiling). "
    '"Rate ÷ ceiling" is how much of that a side reached; "ours\' ceiling ÷ baseline rate" (per round) '
    "is the best ours ÷ baseline ratio our CPU cost allows — below a target ratio, the target is out of "
    'reach on this machine. "Machine" is the busy CPU of all cores (`psutil.cpu_times`) over the same '
    'time; "not attributed" is what no listed process accounts for (other work, Redis, the kernel); '
    "the meter's own readings count in the bench process."
)


def section(results: list[PairResult], cores: int, subjects: list[Subject]) -> str | None:
    """Each subject's paragraph and table, for the generated section; ``None`` if no pair
    read them."""
    blocks = []
    for subject in subjects:
        body = rows([r for r in results if r.pair.group == subject.group], cores)
        if body:
            intro = INTRO.format(cores=cores, **vars(subject))
            blocks.append(f"{intro}\n\n{markdown_table(header(subject), body)}")
    return "\n\n".join(blocks) or None
