"""The one call the store makes to Telegram: the Bot API's sendMessage, for staff answers to a
hand-over (tickets.py). Replies to the shopper's own messages need no call: they go back in the
webhook's response (telegram.py).

An answer Telegram refuses for good (the chat is gone, the bot was blocked) raises `Refused`; one
that may go through later (a timeout, Telegram's 5xx, its rate limit) raises `Unavailable`; a bot
token Telegram does not know raises `TokenRefused`. Messages never carry the token: it is in the
URL, and requests' own errors quote the URL."""

from __future__ import annotations

import requests

API = "https://api.telegram.org/bot{token}/sendMessage"
TIMEOUT = (3.05, 5)  # seconds to connect, to read: a worker is not held up by a slow Telegram


class TelegramError(Exception):
    """Telegram did not take the message."""


class Unavailable(TelegramError):
    """Try again later (after `retry_after` seconds when Telegram said so)."""

    def __init__(self, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Refused(TelegramError):
    """Telegram will never deliver this message (400, 403: chat not found, bot blocked)."""


class TokenRefused(TelegramError):
    """Telegram does not know the bot token (401, 404): the store's setting must change."""


def send_message(*, token: str, chat_id: str, text: str) -> None:
    """Send `text` as plain text (no parse_mode: nothing in it is read as markup) to the chat."""
    try:
        response = requests.post(API.format(token=token), json={"chat_id": chat_id, "text": text}, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise Unavailable(_hide(f"{type(exc).__name__}: {exc}", token)) from None
    if response.status_code == 200:
        return
    body = _json(response)
    said = _hide(f"{response.status_code} {body.get('description') or response.reason or ''}".strip(), token)
    if response.status_code == 429:
        retry_after = (body.get("parameters") or {}).get("retry_after")
        raise Unavailable(said, retry_after=retry_after if isinstance(retry_after, int) else None)
    if response.status_code in (401, 404):
        raise TokenRefused(said)
    if 400 <= response.status_code < 500:
        raise Refused(said)
    raise Unavailable(said)


def _json(response) -> dict:
    try:
        body = response.json()
    except ValueError:  # a proxy's HTML error page
        return {}
    return body if isinstance(body, dict) else {}


def _hide(message: str, token: str) -> str:
    return message.replace(token, "<token>") if token else message
