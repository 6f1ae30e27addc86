"""Web push backends: `send(*, subscription, payload) -> provider's message id`.

`subscription` is a PushSubscription (its endpoint and the browser's keys p256dh and auth);
`payload` is what the store's service worker shows (templates/pwa/sw.js):
{"title", "body", "url", optionally "tag"}: a same-origin `url` only, anything else opens the
home page. docs/channels.md.
"""

import json
import logging
import sys
import threading
import uuid

import requests
from django.conf import settings
from http_ece import ECEException
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from marketing.campaigns.channels import ChannelError

logger = logging.getLogger(__name__)

# A push message carries at most 4096 bytes once encrypted; this leaves room for the encryption.
MAX_PAYLOAD_BYTES = 3800

# Messages sent with the locmem backend, for tests.
outbox: list[dict] = []


def _encode(payload: dict) -> str:
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    if len(data.encode()) > MAX_PAYLOAD_BYTES:
        raise ChannelError(f"The notification is {len(data.encode())} bytes: at most {MAX_PAYLOAD_BYTES}.", code="size")
    return data


class ConsoleBackend:
    """Writes each notification to standard output instead of sending it: the demo store's default."""

    def __init__(self, stream=None):
        self.stream = stream
        self._lock = threading.Lock()

    def send(self, *, subscription, payload: dict) -> str:
        data = _encode(payload)
        message_id = f"console-{uuid.uuid4().hex}"
        stream = self.stream or sys.stdout
        with self._lock:
            stream.write(f"Push to {subscription.endpoint} (id {message_id})\n{data}\n{'-' * 79}\n")
            stream.flush()
        return message_id


class LocmemBackend:
    """Keeps each notification in `marketing.campaigns.channels.push.outbox`, for tests."""

    def send(self, *, subscription, payload: dict) -> str:
        _encode(payload)
        message_id = f"locmem-{len(outbox) + 1}"
        outbox.append({"endpoint": subscription.endpoint, "payload": payload, "id": message_id})
        return message_id


class WebPushBackend:
    """The Web Push protocol (RFC 8030) with VAPID (RFC 8292), through pywebpush: the payload is
    encrypted for the browser's keys and posted to its push service (Google's, Mozilla's, Apple's...).

    404 or 410 from the push service means the browser dropped the subscription: permanent.
    """

    TIMEOUT = (5, 20)  # connect, read (seconds)

    def __init__(self):
        self.session = requests.Session()
        self.vapid = Vapid.from_string(settings.CAMPAIGNS_VAPID_PRIVATE_KEY)
        self.subject = settings.CAMPAIGNS_VAPID_SUBJECT
        self.ttl = settings.CAMPAIGNS_PUSH_TTL

    def send(self, *, subscription, payload: dict) -> str:
        data = _encode(payload)
        info = {"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}
        try:
            response = webpush(
                info,
                data=data,
                vapid_private_key=self.vapid,
                vapid_claims={"sub": self.subject},  # a new dict each time: pywebpush writes aud and exp into it
                ttl=self.ttl,
                timeout=self.TIMEOUT,
                headers={"Urgency": "normal"},
                requests_session=self.session,
            )
        except WebPushException as exc:
            status = exc.status_code
            if status is None:  # refused before sending: the browser's keys are not a key
                raise _unusable_keys(exc) from exc
            gone = status in (404, 410)
            raise ChannelError(
                f"The push service answered {status}" + (": the subscription is gone." if gone else "."),
                permanent=gone,
                code=str(status),
            ) from exc
        except requests.RequestException as exc:
            raise ChannelError(
                f"The push service could not be reached: {exc.__class__.__name__}", code="network"
            ) from exc
        except (ValueError, TypeError, IndexError, ECEException) as exc:
            raise _unusable_keys(exc) from exc
        # Push services answer 201 with the message's address in Location.
        return (response.headers.get("Location") or f"{response.status_code}")[:200]


def _unusable_keys(exc: Exception) -> ChannelError:
    # The browser's keys cannot encrypt anything (not a point on the curve, a bad length):
    # this subscription can never receive a message.
    return ChannelError(f"The subscription's keys are unusable: {exc}"[:300], permanent=True, code="keys")
