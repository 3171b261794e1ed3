"""The published catalogue (docs/asyncapi.json, docs/events/) matches the code."""

from __future__ import annotations

from pathlib import Path

import httpx
import jsonschema

from shared.events.catalogue import asyncapi_document, stale_files
from shared.events.schemas import all_json_schemas, all_versions
from shared.topics import DOMAIN_TOPICS

from merchant_cli.event_tools.catalogue_site import create_app

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_committed_catalogue_is_up_to_date():
    stale = stale_files(DOCS)
    assert stale == [], f"run `merchant events docs` and commit: {[str(p) for p in stale]}"


def test_no_orphan_schema_files():
    published = {p.name for p in (DOCS / "events").glob("*.json")}
    assert published == set(all_json_schemas())


def test_every_schema_is_valid_json_schema():
    for name, schema in all_json_schemas().items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"] == name


def test_asyncapi_lists_one_message_per_type_and_version():
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    assert set(document["channels"]) == set(DOMAIN_TOPICS)
    messages = set(document["components"]["messages"])
    assert messages == {f"{t}_v{v}" for t, v in all_versions()}
    assert "ProductCreated_v2" in document["channels"]["products.events"]["messages"]
    for name in messages:  # every reference resolves
        assert name in document["components"]["schemas"]


async def test_catalogue_site_serves_document_and_schemas():
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://catalogue") as client:
        assert (await client.get("/asyncapi.json")).json()["info"]["title"] == "Merchant domain events"
        assert "ProductCreated.v2.json" in (await client.get("/events")).text
        assert (await client.get("/events/ProductCreated.v2.json")).json()["title"] == "ProductCreated v2"
        missing = await client.get("/events/Nope.v1.json")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        assert "asyncapi" in (await client.get("/")).text.lower()


def test_docs_command_writes_then_checks(tmp_path):
    from typer.testing import CliRunner

    from merchant_cli.main import app

    runner = CliRunner()
    assert runner.invoke(app, ["events", "docs", "--check", "--out", str(tmp_path)]).exit_code == 1
    assert runner.invoke(app, ["events", "docs", "--out", str(tmp_path)]).exit_code == 0
    assert runner.invoke(app, ["events", "docs", "--check", "--out", str(tmp_path)]).exit_code == 0
    (tmp_path / "events" / "ProductCreated.v2.json").write_text("{}")
    stale = runner.invoke(app, ["events", "docs", "--check", "--out", str(tmp_path)])
    assert stale.exit_code == 1 and "ProductCreated.v2.json" in stale.output
