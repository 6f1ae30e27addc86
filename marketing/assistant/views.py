"""The assistant in the storefront: a full chat page that works without JavaScript (a form, the
conversation's messages and the products shown, rendered here), and the messages of the chat so
far for the launcher's panel, which then talks to the API (POST /api/v1/assistant/messages/).

The page's conversation lives in the session. A conversation is only ever read by whoever it
belongs to: the customer who is logged in, or the browser session that started it."""

from __future__ import annotations

import uuid

from django import forms
from django.http import HttpResponseBadRequest, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from marketing.assistant import services
from marketing.assistant.models import Channel, Conversation
from shop.core import ratelimit
from shop.core.errors import NotFound

SESSION_KEY = "assistant_conversation"
MAX_LENGTH = 500
HISTORY = 50  # the last messages a page shows


class MessageForm(forms.Form):
    message = forms.CharField(
        label=gettext_lazy("Your message"), max_length=MAX_LENGTH, strip=True, widget=forms.TextInput
    )


def owned(request, public_id) -> Conversation | None:
    """The conversation `public_id` if it is this shopper's (services.conversation_for_request: the
    customer's own, or this browser session's; a guest's becomes theirs once they log in)."""
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        return None
    try:
        return services.conversation_for_request(request, public_id=public_id)
    except NotFound:
        return None


def _current(request) -> Conversation | None:
    public_id = request.session.get(SESSION_KEY)
    return owned(request, public_id) if public_id else None


def _start(request) -> Conversation:
    conversation = services.conversation_get_or_create(request=request, channel=Channel.WEB)
    request.session[SESSION_KEY] = str(conversation.public_id)
    return conversation


def _limited(request) -> bool:
    """The API's own limit on messages, in the same counter: per customer when logged in, else per
    client address, however the messages come (the page, the panel, the API)."""
    return not ratelimit.ScopedRateThrottle.allow(request, "assistant")


def _messages(conversation: Conversation | None) -> list[dict]:
    """The conversation's last messages, each with the parts the reply showed (products, actions,
    quick replies) as they were sent: what the page and the panel render."""
    if conversation is None:
        return []
    turns = list(conversation.turns.order_by("-created_at", "-id")[:HISTORY])[::-1]
    last_assistant = max((i for i, t in enumerate(turns) if t.role != "shopper"), default=None)
    rows = []
    for i, turn in enumerate(turns):
        parts = turn.parts if isinstance(turn.parts, dict) else {}
        rows.append(
            {
                "role": turn.role,
                "text": turn.text,
                "products": parts.get("products") or [],
                "actions": parts.get("actions") or [],
                # Only the latest reply's suggestions are offered: older ones answered older questions.
                "quick_replies": (parts.get("quick_replies") or []) if i == last_assistant else [],
            }
        )
    return rows


@require_http_methods(["GET", "POST"])
def chat(request):
    conversation = _current(request)
    form = MessageForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if request.POST.get("new"):
            request.session.pop(SESSION_KEY, None)
            return redirect("assistant:chat")
        if not form.is_valid():
            status = 400
        elif _limited(request):
            form.add_error(None, _("That was a lot of messages at once: please wait a minute and try again."))
            status = 429
        else:
            from marketing.assistant import dialogue  # imported when needed: the page does not need it to load

            conversation = conversation or _start(request)
            user = request.user if request.user.is_authenticated else None
            dialogue.respond(conversation, form.cleaned_data["message"], user=user, request=request)
            return redirect(f"{request.path}#latest")
    context = {
        "form": form,
        "conversation": conversation,
        "turns": _messages(conversation),
        "max_length": MAX_LENGTH,
    }
    return render(request, "assistant/chat.html", context, status=status)


@require_GET
def history(request):
    """The chat so far, for the panel: the session's conversation, or the one the panel names if it
    belongs to this shopper (it then becomes the page's too). Also the CSRF token the panel sends."""
    asked = request.GET.get("conversation", "")
    if asked and not _is_uuid(asked):
        return HttpResponseBadRequest(_("Not a conversation."))
    conversation = (owned(request, asked) if asked else None) or _current(request)
    if conversation is not None and request.session.get(SESSION_KEY) != str(conversation.public_id):
        request.session[SESSION_KEY] = str(conversation.public_id)
    response = JsonResponse(
        {
            "conversation": str(conversation.public_id) if conversation else None,
            "messages": _messages(conversation),
            "csrf_token": get_token(request),
        }
    )
    response["Cache-Control"] = "no-store"
    return response


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
