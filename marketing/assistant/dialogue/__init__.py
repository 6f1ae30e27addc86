"""What the assistant does with a sentence it has read (contract.py): one handler per intent.

Every price, stock level, order status, cart total and points balance in a reply is read from
the database as the reply is made; the conversation's context only keeps ids and what is being
asked ("those", "it", a confirmation waiting for a yes, the search being refined). Its shape:

    shown: [product ids]            the cards last shown, in order ("the second one")
    product: id | None              the product "it" is
    search: {ProductFilter params}  the search "cheaper", "in blue", "show more" refine
    offset: int                     how far "show more" went
    pending: {kind: ...} | None     add (a variant and quantity to confirm), choose (a missing
                                    option), order (a number or email to ask for), ticket (an email),
                                    which (several products shown: which one)
"""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from marketing.assistant import selectors, services
from marketing.assistant.contract import Intent, Reply
from marketing.assistant.dialogue.cart import (
    add_step,
    add_to_cart,
    apply_code,
    apply_code_now,
    checkout,
    confirm_add,
    points,
    show_cart,
    use_points,
)
from marketing.assistant.dialogue.common import Exchange, goodbye, greet, help_, menu, thanks, unknown
from marketing.assistant.dialogue.orders import faq, human, open_ticket, track_order
from marketing.assistant.dialogue.products import (
    goes_with,
    product_info,
    product_price,
    product_stock,
    refine,
    search,
    similar,
)
from marketing.assistant.models import Conversation


def respond(conversation: Conversation, text: str, *, user, request=None) -> Reply:
    """Answer one shopper message, record both turns, keep the context. The conversation's row is
    locked for the turn, so two tabs sending at once answer one after the other."""
    from marketing.assistant import language_model
    from marketing.assistant import understanding as reader

    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        conversation.context = dict(conversation.context or {})
        read = language_model.second_opinion(text, conversation.context, reader.understand(text, conversation.context))
        fallback = read.intent not in Intent.ALL or (
            read.intent != Intent.UNKNOWN and read.confidence < settings.ASSISTANT_CONFIDENCE
        )
        # Below the threshold nothing is acted on as read (a doubtful "yes" confirms nothing); the
        # entities still answer a question asked (an email, a size typed as offered).
        turn = Exchange(conversation, text, replace(read, intent=Intent.UNKNOWN) if fallback else read, user, request)
        reply = _answer_pending(turn)
        answered = reply is not None  # an answer to the assistant's own question ("M", an email) is no fallback
        if reply is None:
            reply = HANDLERS[turn.understanding.intent](turn)
        reply.handed_over = conversation.handed_over
        services.context_save(conversation=conversation)
        services.turns_record(
            conversation=conversation,
            text=text,
            understanding=read,
            fallback=not answered and (fallback or read.intent == Intent.UNKNOWN),
            reply=reply,
        )
    return reply


# --- yes, no, and answers to the assistant's own questions ---------------------------------------


def yes(turn: Exchange) -> Reply:
    return Reply(_("There's nothing waiting for a yes. What can I do for you?"), Intent.YES, quick_replies=menu())


def no(turn: Exchange) -> Reply:
    turn.context.pop("pending", None)
    return Reply(_("All right. Anything else?"), Intent.NO, quick_replies=menu())


def _answer_pending(turn: Exchange) -> Reply | None:
    """The reply when the message answers the question the assistant asked; None otherwise (then
    the message is read on its own, and a pending question it ignores is dropped)."""
    pending = turn.context.get("pending")
    if not pending:
        return None
    intent, entities = turn.understanding.intent, turn.entities
    kind = pending.get("kind")
    if intent == Intent.NO:
        return None  # no() cancels
    if kind == "add" and intent == Intent.YES:
        return confirm_add(turn, pending)
    if kind == "choose":
        value = _chosen_value(turn, pending)
        if value is not None:
            product = selectors.product_now(pending["product"])
            if product is None:
                turn.context.pop("pending", None)
                return Reply(_("That product is no longer sold."), Intent.ADD_TO_CART)
            values = {**pending["values"], pending["attribute"]: [value]}
            for attribute, vs in entities.values.items():
                values[attribute] = list(vs)
            return add_step(turn, product, pending["quantity"], values)
    if kind == "which" and (entities.product_ids or (entities.reference or "").isdigit()):
        turn.context.pop("pending", None)
        handler = HANDLERS[pending["intent"]]
        if pending["intent"] == Intent.ADD_TO_CART and not entities.quantity:
            turn.understanding = replace(
                turn.understanding, entities=replace(entities, quantity=pending.get("quantity"))
            )
        return handler(turn)
    if kind == "order" and (entities.email or entities.order_number):
        return track_order(turn)
    if kind == "ticket" and entities.email:
        return open_ticket(turn, entities.email)
    if kind == "code" and entities.code:
        return apply_code_now(turn, entities.code)
    if intent == Intent.YES or intent == Intent.UNKNOWN:
        return None
    turn.context.pop("pending", None)  # the shopper moved on
    return None


def _chosen_value(turn: Exchange, pending: dict) -> str | None:
    """The option the shopper picked: read as an entity, or typed as one of the choices offered."""
    values = turn.entities.values.get(pending["attribute"])
    if values:
        return values[0]
    choices = pending.get("choices", [])
    reference = turn.entities.reference or ""
    if reference.isdigit() and 0 < int(reference) <= len(choices):
        return choices[int(reference) - 1]  # "the first one": of the choices offered
    typed = turn.text.strip().lower()
    return next((choice for choice in choices if choice.lower() == typed), None)


HANDLERS = {
    Intent.GREET: greet,
    Intent.THANKS: thanks,
    Intent.GOODBYE: goodbye,
    Intent.HELP: help_,
    Intent.SEARCH: search,
    Intent.REFINE: refine,
    Intent.PRODUCT_STOCK: product_stock,
    Intent.PRODUCT_PRICE: product_price,
    Intent.PRODUCT_INFO: product_info,
    Intent.SIMILAR: similar,
    Intent.GOES_WITH: goes_with,
    Intent.ADD_TO_CART: add_to_cart,
    Intent.SHOW_CART: show_cart,
    Intent.CHECKOUT: checkout,
    Intent.APPLY_CODE: apply_code,
    Intent.POINTS: points,
    Intent.USE_POINTS: use_points,
    Intent.TRACK_ORDER: track_order,
    Intent.FAQ: faq,
    Intent.HUMAN: human,
    Intent.YES: yes,
    Intent.NO: no,
    Intent.UNKNOWN: unknown,
}
