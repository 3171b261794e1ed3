"""Email job handlers: render the action's message and send it once."""

from __future__ import annotations

from workers.application.email.messages import SUBJECTS, render
from workers.application.jobs import Job
from workers.application.payloads import EMAIL_PAYLOADS
from workers.application.policy import Handler, PermanentError
from workers.application.ports import MailSender
from workers.application.send_once import Sends


def email_handlers(sender: MailSender, sends: Sends, mail_from: str) -> dict[str, Handler]:
    async def send_email(job: Job) -> None:
        try:
            message = render(job.action, job.read(EMAIL_PAYLOADS[job.action]), job_id=job.job_id, sender=mail_from)
        except Exception as exc:  # a payload the template cannot render will never render
            raise PermanentError(f"cannot render {job.action}: {exc}") from exc
        await sends.once(job.job_id, job.kind, lambda: sender.send(message))

    return {action: send_email for action in SUBJECTS}
