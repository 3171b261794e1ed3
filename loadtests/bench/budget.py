"""What one accepted operation costs the whole machine, by process, on both sides of a pair,
and the rate that cost allows on this machine.

On a small machine every side shares the same cores with the servers (FerretDB, its
PostgreSQL, Kafka) and with the bench's own client, so a side's CPU per operation summed
over those processes bounds its rate: at ``sum_ms`` milliseconds of CPU per operation,
``cores × 1000 ÷ sum_ms`` operations per second is the **ceiling** however little anything
waits. Each round of a metered pair reads, before and after (``loadtests.ops.Meter``): the
process under test (the command API with its relay; idle during the baseline's round), the
servers found by ``loadtests.processes`` (PostgreSQL with every backend), this process (the
HTTP client of our side, the raw pymongo loop of the baseline: ``RUSAGE_SELF``, the meter's
own readings included) and the machine's busy seconds — what no listed process accounts for
is "not attributed" (other work on the machine, a server not found).

A server that cannot be found is a ``—`` column, left out of the sum (its CPU then shows as
not attributed), never guessed. A process that cannot be read counts 0 (``loadtests.ops``).
"""

from __future__ import annotations

from collections.abc import Mapping

from loadtests.bench.report import markdown_table, spread
from loadtests.bench.rounds import PairResult, RoundResult
from loadtests.bench.stats import Spread, paired_ratios
from loadtests.ops import Meter, Watched
from loadtests.processes import server_pids

UNDER_TEST = "command API"
BENCH = "bench process"
# (Meter name, column) in the table's order; the servers' names are loadtests.processes'.
COLUMNS = [
    (UNDER_TEST, "command API (+ relay)"),
    ("FerretDB", "FerretDB"),
    ("PostgreSQL (postmaster + children)", "PostgreSQL"),
    ("Kafka (JVM)", "Kafka"),
    (BENCH, "bench process (client / raw loop)"),
]
SERVERS = [name for name, _ in COLUMNS if name not in (UNDER_TEST, BENCH)]


def meter(under_test: Watched, env: Mapping[str, str]) -> Meter:
    """Readings of the process under test, the servers of ``env`` that can be found, this
    process (``BENCH``) and the machine."""
    found = server_pids(env)
    servers = [Watched(name, found[name]) for name in SERVERS if name in found]
    return Meter([under_test, *servers], harness=BENCH)


def cost_ms(result: RoundResult) -> dict[str, float] | None:
    """A round's CPU ms per successful operation: each listed process that was read, their
    ``sum``, the ``machine``'s and ``not attributed`` (machine − sum); ``None`` when the
    round was not metered or did nothing."""
    if result.usage is None or not result.operations:
        return None
    per = {name: result.usage.cpu[name] * 1000 / result.operations for name, _ in COLUMNS if name in result.usage.cpu}
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
        # ours' ceiling against the raw loop's measured rate, round by round: the best
        # ours ÷ baseline ratio ours' CPU cost allows, however little anything waits
        allowed = f"**{spread(paired_ratios(ceilings, [b.rate for b in baseline]))}**"
    return [
        name,
        side,
        spread(Spread.of([r.rate for r, _ in costs])),
        *(of(key) for key, _ in COLUMNS),
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


HEADER = [
    "hot path",
    "side",
    "rate /s",
    *(f"{column} CPU ms/op" for _, column in COLUMNS),
    "sum ms/op",
    "machine ms/op",
    "not attributed ms/op",
    "ceiling /s (cores × 1000 ÷ sum)",
    "rate ÷ ceiling",
    "ours' ceiling ÷ baseline rate",
]


INTRO = (
    "**What one operation costs the whole machine** (the pairs that read it: the commands). For both "
    "sides of each pair, the CPU milliseconds per successful operation of each process, read with "
    "psutil before and after every round (user + system, children included: PostgreSQL's backends): "
    "the command API with its relay (during the baseline's round it is idle), FerretDB, PostgreSQL, "
    "Kafka, and the bench process itself (our side's HTTP client; the baseline's raw pymongo loop). "
    "Their sum bounds the rate on this machine: at that cost its {cores} cores allow at most "
    "`cores × 1000 ÷ sum` operations per second, however little anything waits (the ceiling). "
    '"Rate ÷ ceiling" is how much of that a side reached; "ours\' ceiling ÷ baseline rate" (per round) '
    "is the best ours ÷ baseline ratio our CPU cost allows — below a target ratio, the target is out of "
    'reach on this machine. "Machine" is the busy CPU of all cores (`psutil.cpu_times`) over the same '
    'time; "not attributed" is what no listed process accounts for (other work, Redis, the kernel); '
    "the meter's own readings count in the bench process."
)


def section(results: list[PairResult], cores: int) -> str | None:
    """The paragraph and the table, for the generated section; ``None`` if no pair read them."""
    body = rows(results, cores)
    return f"{INTRO.format(cores=cores)}\n\n{markdown_table(HEADER, body)}" if body else None
