"""SMS job handlers: one short text per action, sent once."""

from __future__ import annotations

from pydantic import ValidationError

from workers.application.email.messages import order_ref
from workers.application.jobs import Job
from workers.application.payloads import ShippingNotice
from workers.application.policy import Handler, PermanentError
from workers.application.ports import SmsProvider
from workers.application.send_once import Sends

TEXTS = {
    "shipping_notice": "Your order {order_ref} has shipped with {carrier}, tracking {tracking_number}.",
}


def sms_handlers(provider: SmsProvider, sends: Sends) -> dict[str, Handler]:
    async def send_sms(job: Job) -> None:
        try:
            notice = job.read(ShippingNotice)
        except ValidationError as exc:
            raise PermanentError(f"incomplete SMS job: {exc}") from exc
        if notice.to is None:
            raise PermanentError("incomplete SMS job: no phone number")
        to = notice.to
        text = TEXTS[job.action].format(order_ref=order_ref(notice.order_id), **notice.model_dump())
        await sends.once(job.job_id, job.kind, lambda: provider.send(to, text, job.job_id))

    return {action: send_sms for action in TEXTS}
