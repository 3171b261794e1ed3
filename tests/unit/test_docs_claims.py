"""What the docs claim, checked against the code: a claim that stops being true fails here."""

from __future__ import annotations

import re
from pathlib import Path

from redis.crc import key_slot

from query_api.adapters.cache.epochs import generation_keys, id_tag

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_redis_cluster_is_claimed_only_if_one_l2_read_stays_in_one_hash_slot():
    """An L2 read is one MGET of the entry and its generation counters (``L2Cache.get``);
    Redis Cluster refuses a multi-key command across hash slots."""
    reads = [
        (id_tag("catalog_products", "p-1"), "product:p-1"),
        (("catalog_products", "m-1"), "products:m-1"),
    ]
    one_slot = all(len({key_slot(k.encode()) for k in (*generation_keys(tag), f"qc:{key}")}) == 1 for tag, key in reads)
    claims = [
        f"{doc.relative_to(ROOT)}: {sentence}"
        for doc in DOCS
        for sentence in sentences(doc.read_text())
        if re.search(r"redis cluster", sentence, re.I) and not re.search(r"not supported", sentence, re.I)
    ]
    assert one_slot or not claims, claims


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split()))]


FIGURE = re.compile(r"\d[\d,.]*\s?(ms|µs|s|%|/s|MB|×)(?![\w-])")
DATE = re.compile(r"20\d\d-\d\d-\d\d")
COMMAND = re.compile(r"```|`(merchant|make|python|\.venv/bin/\w+|MONGODB_URL=|schemathesis|CI=true)[^`]*`")


def benchmark_sections() -> list[tuple[str, str, str]]:
    """(heading, its text, the text of its ``##`` section before the first ``###``)."""
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    sections, parent_intro = [], ""
    for block in re.split(r"(?m)^(?=#{2,3} )", text):
        heading = block.splitlines()[0] if block.startswith("#") else "(top)"
        if heading.startswith("## "):
            parent_intro = block
        sections.append((heading, block, parent_intro))
    return sections


def quotes_figures(block: str) -> bool:
    """Whether a section states measured figures: numbers with units outside code blocks and
    outside the sentences that set targets or goals (``≤ 100 ms`` is a target, not a run)."""
    prose = re.sub(r"(?s)```.*?```", " ", block)
    measured = [s for s in sentences(prose) if not re.search(r"target|goal|[≤≥]", s, re.I)]
    return any(FIGURE.search(s) for s in measured)


def test_every_benchmark_figure_says_when_and_how_it_was_measured():
    """A section of docs/benchmarks.md that quotes figures carries a date and the command
    that reproduces them (its own, or its ``##`` section's introduction)."""
    undated = [
        heading
        for heading, block, intro in benchmark_sections()
        if quotes_figures(block) and not (DATE.search(block) or DATE.search(intro))
    ]
    no_command = [
        heading
        for heading, block, intro in benchmark_sections()
        if quotes_figures(block) and not (COMMAND.search(block) or COMMAND.search(intro))
    ]
    assert (undated, no_command) == ([], [])
