"""``merchant ops memory <url>``: the memory monitor's report from a running process.

Works against any component's ops listener (``MERCHANT_METRICS_PORT``: command API 9001,
query API 9002, projectors 9101, workers 9111 by default), never an API's public port.
Sends ``MERCHANT_OPS_TOKEN`` when set. ``--trace start|stop`` turns tracemalloc on or off
in that process; while on, the report names the allocation sites that grew most.
"""

from __future__ import annotations

import os

import typer

app = typer.Typer(no_args_is_help=True)

MB = 1024 * 1024


@app.command("memory")
def memory(
    url: str = typer.Argument(
        ..., help="Ops listener, e.g. http://127.0.0.1:9002 (query API) or http://127.0.0.1:9101."
    ),
    top: int = typer.Option(10, help="Allocation sites to list (while tracing)."),
    trace: str | None = typer.Option(None, help="start or stop tracemalloc first."),
    as_json: bool = typer.Option(False, "--json", help="Print the raw JSON report."),
) -> None:
    import httpx
    import orjson

    token = os.environ.get("MERCHANT_OPS_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    base = url.rstrip("/")
    with httpx.Client(timeout=10, headers=headers) as client:
        if trace is not None:
            if trace not in ("start", "stop"):
                raise typer.BadParameter("--trace is start or stop")
            method = "POST" if trace == "start" else "DELETE"
            client.request(method, f"{base}/ops/memory/tracing").raise_for_status()
        response = client.get(f"{base}/ops/memory", params={"top": top})
        response.raise_for_status()
        report = response.json()
    if as_json:
        typer.echo(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return
    trend = report["trend"]
    typer.echo(f"health      {report['health']}")
    typer.echo(f"RSS         {report['rss_bytes'] / MB:.1f} MB")
    typer.echo(
        f"trend       {trend['bytes_per_minute'] / MB:+.2f} MB/min over {trend['samples']} samples "
        f"(r²={trend['r2']:.2f})"
    )
    typer.echo(f"leak        {'SUSPECTED' if report['leak_suspected'] else 'no'}")
    typer.echo(f"tracemalloc {'on' if report['tracing'] else 'off (--trace start to name allocation sites)'}")
    for site in report["top_allocations"]:
        typer.echo(f"  {site['size_diff_bytes'] / 1024:+10.1f} KiB {site['count_diff']:+8d}  {site['site']}")
