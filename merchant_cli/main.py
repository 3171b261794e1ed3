"""``merchant``: run, operate and inspect the merchant backend.

Each command group lives in its own module and imports heavy dependencies lazily, so
``merchant infra status`` starts fast.
"""

from __future__ import annotations

import typer

from merchant_cli import (
    bench,
    dev,
    events,
    infra,
    jobs,
    load,
    merchants,
    ops,
    parked,
    profile,
    projections,
    seed,
    serve,
)

app = typer.Typer(
    help="Merchant backend: event-driven CQRS for merchants.", no_args_is_help=True, pretty_exceptions_enable=False
)
app.add_typer(infra.app, name="infra", help="Install, start, stop and inspect the local servers.")
app.add_typer(events.app, name="events", help="The domain event streams: catalogue, tail, export.")
app.add_typer(jobs.app, name="jobs", help="Queue health of the workers; replay dead letters.")
app.add_typer(merchants.app, name="merchants", help="Create merchants and their API keys.")
app.add_typer(parked.app, name="parked", help="Aggregates whose publication is parked: list, retry.")
app.add_typer(projections.app, name="projections", help="Rebuild read models; show projection lag.")
app.command("serve", help="Run one component in the foreground.")(serve.serve)
app.add_typer(ops.app, name="ops", help="Ask a running process: memory report, tracemalloc.")
app.command("profile", help="Profile a component: cpu (HTML), memory (tracemalloc), loop (lag).")(profile.profile)
app.command(
    "load",
    help="Run a locust load scenario (basic, spike, stress, endurance...) and report.",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
)(load.load)
app.command("seed", help="Seed merchants, products and order histories through the real write path.")(seed.seed)
app.command(
    "bench",
    help="Our hot paths beside their baselines, side by side: medians, ratios, plots.",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
)(bench.bench)
app.command("dev", help="Everything: the servers and every component, Ctrl-C stops all.")(dev.dev)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
