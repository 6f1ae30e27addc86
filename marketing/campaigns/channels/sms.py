"""SMS backends: `send(*, to, text, reference) -> provider's message id`.

`to` is a number in E.164 form (+ and up to 15 digits). `reference` is ours (the message's id):
the console and the outbox show it, and Twilio, which keeps no such field, gets it in the log.
"""

import logging
import re
import sys
import threading
import uuid

import requests
from django.conf import settings

from marketing.campaigns.channels import ChannelError

logger = logging.getLogger(__name__)

E164 = re.compile(r"\+[1-9][0-9]{6,14}")

# Messages sent with the locmem backend, for tests (like django.core.mail.outbox).
outbox: list[dict] = []


def _check_number(to: str) -> None:
    if not E164.fullmatch(to or ""):
        raise ChannelError(f"{to!r} is not a phone number in international form (+ and digits).", permanent=True)


class ConsoleBackend:
    """Writes each message to standard output instead of sending it: the demo store's default."""

    def __init__(self, stream=None):
        self.stream = stream
        self._lock = threading.Lock()

    def send(self, *, to: str, text: str, reference: str) -> str:
        _check_number(to)
        message_id = f"console-{uuid.uuid4().hex}"
        stream = self.stream or sys.stdout
        with self._lock:
            stream.write(f"SMS to {to} (reference {reference}, id {message_id})\n{text}\n{'-' * 79}\n")
            stream.flush()
        return message_id


class LocmemBackend:
    """Keeps each message in `marketing.campaigns.channels.sms.outbox`, for tests."""

    def send(self, *, to: str, text: str, reference: str) -> str:
        _check_number(to)
        message_id = f"locmem-{len(outbox) + 1}"
        outbox.append({"to": to, "text": text, "reference": reference, "id": message_id})
        return message_id


class TwilioBackend:
    """Twilio's Messages API (https://www.twilio.com/docs/messaging/api/message-resource).

    CAMPAIGNS_TWILIO_FROM is the sender: a number of the account (+E.164) or a Messaging
    Service (its SID, MG…). Settings refuse to start with this backend and a credential missing.
    """

    API = "https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json"
    TIMEOUT = (5, 20)  # connect, read (seconds)
    # Twilio's error codes that say the number itself can never receive our SMS: not a valid
    # number, not a mobile, not reachable by SMS, or its owner answered STOP to our sender.
    PERMANENT_CODES = {21211, 21217, 21407, 21610, 21612, 21614}

    def __init__(self):
        self.session = requests.Session()
        self.session.auth = (settings.CAMPAIGNS_TWILIO_ACCOUNT_SID, settings.CAMPAIGNS_TWILIO_AUTH_TOKEN)

    def send(self, *, to: str, text: str, reference: str) -> str:
        _check_number(to)
        sender = settings.CAMPAIGNS_TWILIO_FROM
        data = {"To": to, "Body": text, ("MessagingServiceSid" if sender.startswith("MG") else "From"): sender}
        url = self.API.format(sid=settings.CAMPAIGNS_TWILIO_ACCOUNT_SID)
        try:
            response = self.session.post(url, data=data, timeout=self.TIMEOUT)
        except requests.RequestException as exc:  # timeouts, refused connections, TLS errors
            raise ChannelError(f"Twilio could not be reached: {exc.__class__.__name__}", code="network") from exc
        if response.status_code >= 400:
            raise self._error(response)
        try:
            sid = response.json()["sid"]
        except (ValueError, KeyError, TypeError):
            raise ChannelError(f"Twilio answered {response.status_code} without a message id.") from None
        logger.info("SMS %s sent to Twilio as %s", reference, sid)
        return sid

    def _error(self, response) -> ChannelError:
        try:
            body = response.json()
            code, message = int(body.get("code") or 0), str(body.get("message") or "")
        except (ValueError, TypeError, AttributeError):
            code, message = 0, ""
        text = f"Twilio {response.status_code}" + (f" (error {code}): {message}" if code else "")
        # A 4xx about something else (our credentials, our sender, a region not enabled) is
        # ours to fix: the number stays usable, the message may be tried again.
        return ChannelError(text[:300], permanent=code in self.PERMANENT_CODES, code=str(code or response.status_code))
