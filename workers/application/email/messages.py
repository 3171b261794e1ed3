"""Email messages from templates: a plain-text and an HTML body for every action.

Templates live beside this module (``templates/<action>.txt`` and ``.html``); HTML is
autoescaped, so customer-supplied names cannot inject markup.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from workers.application.money import format_money
from workers.application.payloads import EmailPayload, ReportReady

SUBJECTS = {
    "order_confirmation": "Your order {order_ref} is confirmed",
    "shipping_notice": "Your order {order_ref} has shipped",
    "order_expired": "Your order {order_ref} has expired",
    "report_ready": "Your sales report {date_from} to {date_to} is ready",
}

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters["money"] = format_money


def order_ref(order_id: str) -> str:
    return order_id[:8].upper()


def render(action: str, payload: EmailPayload, *, job_id: str, sender: str) -> EmailMessage:
    """The message for one email job. Message-ID is derived from the job id (stable).

    Raises ``ValueError`` when there is no recipient, and whatever the template raises
    for a payload it cannot render."""
    if payload.to is None:
        raise ValueError("no recipient (the order's contact is unknown)")
    order_id = "" if isinstance(payload, ReportReady) else payload.order_id
    context = {**payload.to_payload(), "order_ref": order_ref(order_id)}
    message = EmailMessage()
    message["From"] = sender
    message["To"] = payload.to
    message["Subject"] = SUBJECTS[action].format(**context)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{job_id}@merchant-backend>"
    message.set_content(_templates.get_template(f"{action}.txt").render(context))
    message.add_alternative(_templates.get_template(f"{action}.html").render(context), subtype="html")
    return message
