"""The assistant in Telegram: the webhook Telegram calls with each Update (docs/assistant.md, "In a messaging app").

    Telegram ──POST Update──▶ webhook ──dialogue.respond()──▶ Reply ──▶ {"method": "sendMessage", ...}

The store never calls Telegram: the answer goes back in the webhook's own response, which the Bot
API runs as a method call. So there is no HTTP client here, no outbox and nothing to retry.

Telegram signs nothing; it sends the secret given to setWebhook in X-Telegram-Bot-Api-Secret-Token.
Without settings.ASSISTANT_TELEGRAM_SECRET the adapter is off and answers 404.

Telegram sends an update again when the webhook failed or was slow. The last update_id answered is
kept in the chat's conversation, written in the transaction that records the turns, under the
conversation's row lock: a repeat of it is not answered again (a cart line is not added twice), but
its recorded reply is sent once more, since a redelivery means Telegram did not get the first
answer. Older update ids are dropped.

Only what a shopper types in a private chat is answered (and the buttons they tap): groups, edits,
photos and other kinds of update get a 200 with nothing to send, or Telegram would retry them.
"""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import OperationalError, transaction
from django.http import JsonResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from marketing.assistant import dialogue
from marketing.assistant.contract import Action, ProductCard, Reply
from marketing.assistant.models import Channel, Conversation, Turn
from shop.core import ratelimit

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TEXT_LIMIT = 4096  # Telegram's longest message, in UTF-16 code units
CALLBACK_LIMIT = 64  # bytes of callback_data in an inline button
MESSAGE_LIMIT = 500  # the longest shopper message the assistant reads, as in the API
# The conversation's context key for the last update answered (the dialogue keeps every other key).
UPDATE_KEY = "telegram_update"
# Telegram's commands, read as what they ask: words for the matcher (which reads English), not
# for the shopper, so not translated.
COMMANDS = {"/start": "hello", "/help": "what can you do?"}


class Malformed(Exception):
    pass


@dataclass(frozen=True)
class Incoming:
    """A shopper's message to answer: typed in a private chat, or the data of a button they tapped."""

    update_id: int
    chat_id: int
    text: str
    language: str = ""


@csrf_exempt  # Telegram posts without a cookie or token; the secret header is its credential
def webhook(request):
    secret = settings.ASSISTANT_TELEGRAM_SECRET
    if not secret:
        return JsonResponse({"detail": "Not found."}, status=404)
    if request.method != "POST":
        return JsonResponse({"detail": "Method not allowed."}, status=405)
    given = request.headers.get(SECRET_HEADER, "")
    # Constant time, so the secret cannot be guessed one character at a time.
    if not hmac.compare_digest(given.encode(), secret.encode()):
        return JsonResponse({"detail": f"The {SECRET_HEADER} header is missing or wrong."}, status=403)
    try:
        message = incoming(parse(request.body))
    except Malformed as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    if message is None:
        return JsonResponse({})
    with translation.override(_language(message.language)):
        return JsonResponse(answer(message))


def parse(body: bytes) -> dict:
    """The update as a dict with an integer update_id; Malformed otherwise."""
    try:
        update = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        raise Malformed("The body is not JSON: Telegram sends an Update object.") from None
    if not isinstance(update, dict) or not _is_int(update.get("update_id")):
        raise Malformed("The body is not a Telegram Update: an object with an integer update_id.")
    return update


def incoming(update: dict) -> Incoming | None:
    """The message to answer in this update; None for what the assistant does not answer."""
    if isinstance(update.get("message"), dict):
        message, text = update["message"], update["message"].get("text")
        sender = message.get("from")
    elif isinstance(update.get("callback_query"), dict):
        query = update["callback_query"]
        message, text, sender = query.get("message"), query.get("data"), query.get("from")
    else:
        return None  # edited_message, channel_post, inline_query, my_chat_member…
    if not isinstance(message, dict) or not isinstance(text, str) or not text.strip():
        return None  # a photo, a sticker, a button on an inline message
    chat = message.get("chat")
    if not isinstance(chat, dict) or chat.get("type") != "private" or not _is_int(chat.get("id")):
        return None  # groups and channels: the assistant talks to one shopper at a time
    sender = sender if isinstance(sender, dict) else {}
    if sender.get("is_bot") is True:
        return None
    language = sender.get("language_code")
    return Incoming(
        update["update_id"], chat["id"], _command(text.strip()), language if isinstance(language, str) else ""
    )


def _command(text: str) -> str:
    """/start and /help as the words they mean ("/start@ShopBot payload" too); other text as written."""
    if not text.startswith("/"):
        return text
    name = text.split(maxsplit=1)[0].split("@", 1)[0].lower()
    return COMMANDS.get(name, text)


def answer(message: Incoming) -> dict:
    """The response body: a sendMessage for the chat, or {} (nothing to send)."""
    limit, period = settings.ASSISTANT_TELEGRAM_MESSAGES_PER_CHAT
    if ratelimit.record_attempt(f"assistant-telegram:{message.chat_id}", period=period) > limit:
        return _send(message.chat_id, _("You're sending messages faster than I can read them. Wait a minute, please."))
    if len(message.text) > MESSAGE_LIMIT:
        return _send(message.chat_id, _("Keep a message under 500 characters."))
    try:
        reply = _respond(message)
    except OperationalError:
        raise  # a busy database answers 503 (shop.core.middleware): Telegram sends the update again
    except Exception:
        # Telegram would send the update again and again: apologise once instead (nothing was kept).
        log.exception("The assistant failed on Telegram update %s.", message.update_id)
        return _send(message.chat_id, _("Sorry, something went wrong on our side. Please try again."))
    return render(reply, chat_id=message.chat_id) if reply is not None else {}


def _respond(message: Incoming) -> Reply | None:
    """The reply to the message, answered once per update_id (see the module's docstring)."""
    with transaction.atomic():
        # get_or_create is race-safe here: one conversation per chat is a unique constraint.
        found, _created = Conversation.objects.get_or_create(channel=Channel.TELEGRAM, external_id=str(message.chat_id))
        conversation = Conversation.objects.select_for_update().get(pk=found.pk)
        last = (conversation.context or {}).get(UPDATE_KEY)
        if _is_int(last) and message.update_id <= last:
            return _last_reply(conversation) if message.update_id == last else None
        reply = dialogue.respond(conversation, message.text, user=None, request=None)
        conversation.refresh_from_db(fields=["context"])  # as the dialogue left it, still under our lock
        conversation.context[UPDATE_KEY] = message.update_id
        conversation.save(update_fields=["context"])
    return reply


def _last_reply(conversation: Conversation) -> Reply | None:
    """The assistant's last reply in the conversation, rebuilt from its recorded turn."""
    turn = conversation.turns.filter(role=Turn.Role.ASSISTANT).order_by("-created_at", "-id").first()
    if turn is None:
        return None
    parts = turn.parts or {}
    try:
        return Reply(
            turn.text,
            turn.intent,
            products=[ProductCard(**{**p, "amount": Decimal(p["amount"])}) for p in parts.get("products", [])],
            actions=[Action(**a) for a in parts.get("actions", [])],
            quick_replies=list(parts.get("quick_replies", [])),
        )
    except (TypeError, KeyError, ArithmeticError):
        return Reply(turn.text, turn.intent)  # parts recorded in an older shape: the text alone


# --- the reply as a Bot API sendMessage ------------------------------------------------------------


def render(reply: Reply, *, chat_id: int) -> dict:
    """sendMessage with the reply's text, its products as lines with their links, its quick replies
    as buttons that send them back (callback_data) and its links as URL buttons. Plain text (no
    parse_mode): nothing in a product's name can be read as markup."""
    blocks = [reply.text]
    for card in reply.products:
        price = card.price
        if card.was:
            price += " (" + _("was %(was)s") % {"was": card.was} + (f", {card.offer}" if card.offer else "") + ")"
        blocks.append(f"{card.name} — {price} — {card.stock_note}\n{absolute(card.url)}")
    body = _send(chat_id, fit("\n\n".join(blocks)))
    rows = _buttons(reply)
    if rows:
        body["reply_markup"] = {"inline_keyboard": rows}
    return body


def _buttons(reply: Reply) -> list[list[dict]]:
    sends = [*reply.quick_replies, *(a.text for a in reply.actions if a.kind == "send")]
    # A button whose text does not fit in callback_data is left out rather than sent cut (it would
    # send other words than it shows); the dialogue's quick replies are short.
    taps = [{"text": text, "callback_data": text} for text in sends if 0 < len(text.encode()) <= CALLBACK_LIMIT]
    rows = [taps[i : i + 2] for i in range(0, len(taps), 2)]
    rows += [[{"text": a.label, "url": absolute(a.url)}] for a in reply.actions if a.kind == "link" and a.url]
    return rows


def _send(chat_id: int, text: str) -> dict:
    return {"method": "sendMessage", "chat_id": chat_id, "text": text}


def absolute(url: str) -> str:
    """A link the shopper can open from Telegram: on the store's address (settings.SHOP_SITE_URL)."""
    if url.startswith(("https://", "http://")):
        return url
    return settings.SHOP_SITE_URL.rstrip("/") + "/" + url.lstrip("/")


def fit(text: str, limit: int = TEXT_LIMIT) -> str:
    """The text within Telegram's limit, which counts UTF-16 code units; cut with an ellipsis."""
    encoded = text.encode("utf-16-le")
    if len(encoded) <= limit * 2:
        return text
    # errors="ignore" drops half of a surrogate pair cut in two (an emoji): never invalid text.
    return encoded[: (limit - 1) * 2].decode("utf-16-le", errors="ignore") + "…"


def _language(code: str) -> str:
    """The shopper's Telegram language if the store speaks it, else the store's."""
    try:
        return translation.get_supported_language_variant(code) if code else settings.LANGUAGE_CODE
    except LookupError:
        return settings.LANGUAGE_CODE


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
