"""A development SMTP server that keeps every message, with a small Mailpit-like HTTP API.

Run: ``python -m infra.smtp_server --smtp 127.0.0.1:1025 --http 127.0.0.1:8025 --maildir DIR``.

Messages are stored in a Maildir (written to tmp/, renamed into new/, moved to cur/ once
read), so they survive restarts and any mail tool can open them. The HTTP API mimics the
part of Mailpit's API the tests use, so they read mail the same way whether this server or
Mailpit (infra/docker-compose.yml) runs:

- ``GET /api/v1/messages[?start=&limit=]`` -> ``{"total", "count", "start", "messages": [...]}``,
  newest first, each with ID, MessageID, From, To, Cc, Subject, Created, Size, Read, Snippet;
- ``GET /api/v1/message/{ID}`` (or ``latest``) -> the same plus Text, HTML, Attachments;
- ``GET /api/v1/message/{ID}/raw`` -> the message source;
- ``DELETE /api/v1/messages`` -> deletes those in ``{"IDs": [...]}``, or all without a body.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import time
import uuid
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path
from typing import cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


class Maildir:
    """Message files named ``<arrival ns>.<random>``: the name is the ID and sorts by time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("tmp", "new", "cur"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    def add(self, raw: bytes) -> str:
        mid = f"{time.time_ns()}.{uuid.uuid4().hex[:12]}"
        tmp = self.root / "tmp" / mid
        tmp.write_bytes(raw)
        tmp.rename(self.root / "new" / mid)  # atomic: readers never see half a message
        return mid

    def ids(self) -> list[str]:
        names = [p.name for sub in ("new", "cur") for p in (self.root / sub).iterdir()]
        return sorted(names, reverse=True)

    def path(self, mid: str) -> Path | None:
        if "/" in mid or mid.startswith("."):
            return None  # an ID is a file name, never a path
        for sub in ("new", "cur"):
            if (self.root / sub / mid).exists():
                return self.root / sub / mid
        return None

    def mark_read(self, mid: str) -> None:
        src = self.root / "new" / mid
        if src.exists():
            src.rename(self.root / "cur" / mid)

    def delete(self, mids: list[str] | None = None) -> None:
        for mid in self.ids() if mids is None else mids:
            if (path := self.path(mid)) is not None:
                path.unlink(missing_ok=True)


def _addresses(msg: EmailMessage, header: str) -> list[dict[str, str]]:
    values = [str(v) for v in msg.get_all(header, [])]
    return [{"Name": name, "Address": addr} for name, addr in getaddresses(values) if addr]


def _body(msg: EmailMessage, kind: str) -> str:
    part = msg.get_body(preferencelist=(kind,))
    return part.get_content() if part is not None else ""


def _parse(path: Path) -> tuple[EmailMessage, int]:
    raw = path.read_bytes()
    return cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(raw)), len(raw)


@functools.lru_cache(maxsize=20_000)
def _listing(mid: str, path: Path) -> dict:
    """A message's summary, made once: a stored message never changes (only its folder does,
    hence the path in the key), and listing 2,000 kept messages re-parsed each per call (6 s)."""
    msg, size = _parse(path)
    created = datetime.fromtimestamp(int(mid.split(".")[0]) / 1e9, UTC)
    sender = _addresses(msg, "From")
    return {
        "ID": mid,
        "MessageID": str(msg.get("Message-ID", "")).strip().strip("<>"),
        "From": sender[0] if sender else {"Name": "", "Address": ""},
        "To": _addresses(msg, "To"),
        "Cc": _addresses(msg, "Cc"),
        "ReplyTo": _addresses(msg, "Reply-To"),
        "Subject": str(msg.get("Subject", "")),
        "Created": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "Size": size,
        "Read": path.parent.name == "cur",
        "Snippet": " ".join(_body(msg, "plain").split())[:250],
    }


def summary(store: Maildir, mid: str, full: bool = False) -> dict:
    path = store.path(mid)
    if path is None:
        raise KeyError(mid)
    item = dict(_listing(mid, path))
    if full:
        msg, _ = _parse(path)
        item["Text"] = _body(msg, "plain")
        item["HTML"] = _body(msg, "html")
        item["Attachments"] = [
            {
                "FileName": a.get_filename() or "",
                "ContentType": a.get_content_type(),
                "Size": len(a.get_payload(decode=True) or b""),
            }
            for a in msg.iter_attachments()
        ]
    return item


def http_app(store: Maildir) -> Starlette:
    async def messages(request: Request) -> Response:
        if request.method == "DELETE":
            body = await request.body()
            ids = (await request.json()).get("IDs") if body.strip() else None
            store.delete(ids or None)  # Mailpit: no IDs means delete everything
            return PlainTextResponse("ok")
        ids = store.ids()
        start = int(request.query_params.get("start", 0))
        limit = int(request.query_params.get("limit", 50))
        page = [summary(store, mid) for mid in ids[start : start + limit] if store.path(mid) is not None]
        return JSONResponse(
            {
                "total": len(ids),
                "messages_count": len(ids),
                "count": len(page),
                "unread": sum(not m["Read"] for m in page),
                "start": start,
                "tags": [],
                "messages": page,
            }
        )

    def _find(request: Request) -> str | None:
        mid = request.path_params["id"]
        if mid == "latest":
            ids = store.ids()
            return ids[0] if ids else None
        return mid if store.path(mid) is not None else None

    async def message(request: Request) -> Response:
        mid = _find(request)
        if mid is None:
            return PlainTextResponse("message not found", status_code=404)
        store.mark_read(mid)
        return JSONResponse(summary(store, mid, full=True))

    async def raw(request: Request) -> Response:
        mid = _find(request)
        if mid is None:
            return PlainTextResponse("message not found", status_code=404)
        return Response(store.path(mid).read_bytes(), media_type="text/plain")

    async def livez(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/api/v1/messages", messages, methods=["GET", "DELETE"]),
            Route("/api/v1/message/{id}", message, methods=["GET"]),
            Route("/api/v1/message/{id}/raw", raw, methods=["GET"]),
            Route("/livez", livez, methods=["GET"]),
        ]
    )


class KeepHandler:
    """aiosmtpd handler: accept every recipient and store the message as received."""

    def __init__(self, store: Maildir) -> None:
        self.store = store

    async def handle_DATA(self, server, session, envelope) -> str:
        self.store.add(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def _accept_any_login(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult

    return AuthResult(success=True)  # like Mailpit's --smtp-auth-accept-any: a catcher, not a gate


async def serve(smtp: tuple[str, int], http: tuple[str, int], maildir: Path) -> None:
    import uvicorn
    from aiosmtpd.smtp import SMTP

    store = Maildir(maildir)
    loop = asyncio.get_running_loop()
    smtp_server = await loop.create_server(
        # A fixed hostname: the default getfqdn() can stall on a DNS lookup.
        lambda: SMTP(
            KeepHandler(store), hostname="merchant-smtp", authenticator=_accept_any_login, auth_require_tls=False
        ),
        smtp[0],
        smtp[1],
    )
    config = uvicorn.Config(
        http_app(store), host=http[0], port=http[1], log_level="warning", access_log=False, lifespan="off"
    )
    try:
        await uvicorn.Server(config).serve()  # returns on SIGTERM/SIGINT
    finally:
        smtp_server.close()
        await smtp_server.wait_closed()


def _hostport(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", int(port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smtp", type=_hostport, default="127.0.0.1:1025")
    parser.add_argument("--http", type=_hostport, default="127.0.0.1:8025")
    parser.add_argument("--maildir", type=Path, required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.smtp, args.http, args.maildir))


if __name__ == "__main__":
    main()
