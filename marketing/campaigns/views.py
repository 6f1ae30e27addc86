"""Pages that need no login, reached from a message through a signed link (tracking.py):
the open pixel, the click redirect, one-click unsubscribe and the preferences page."""

import base64

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from marketing.campaigns import onsite, services, tracking
from marketing.campaigns.models import Message
from shop.accounts.models import Channel, ConsentSource
from shop.accounts.services import CONSENT_WORDING, consents_of, consents_update

# A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _not_found(request):
    return render(
        request,
        "campaigns/link_problem.html",
        {"message": _("This link is not valid. It may have been copied incompletely.")},
        status=404,
    )


@never_cache
def opened(request, token):
    """Counts an open, whoever asks (mail apps load images ahead): always the same pixel."""
    message_id = tracking.message_id(token, "open")
    if message_id is not None:
        services.message_opened(message_id=message_id)
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Referrer-Policy"] = "no-referrer"
    return response


@never_cache
def clicked(request, token, link):
    message_id = tracking.message_id(token, "click")
    target = services.message_clicked(message_id=message_id, link=link) if message_id is not None else None
    if target is None:
        return _not_found(request)
    response = HttpResponseRedirect(target)
    response["Referrer-Policy"] = "no-referrer"  # the signed token stays here
    return response


@csrf_exempt  # the signed link is the proof; mail apps POST here without a form (RFC 8058)
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """GET shows one button (link scanners open links, and must not unsubscribe anyone); POST
    unsubscribes: from that button, or from the mail app's own Unsubscribe (List-Unsubscribe-Post)."""
    message_id = tracking.message_id(token, "unsubscribe")
    message = Message.objects.select_related("user").filter(pk=message_id).first() if message_id else None
    if message is None:
        return _not_found(request)
    if request.method == "POST":
        services.message_unsubscribe(message_id=message.pk)
        if request.POST.get("List-Unsubscribe") == "One-Click":
            return HttpResponse(status=204)
        done = True
    else:
        done = False
    context = {
        "done": done,
        "channel": Channel(message.channel).label,
        "email": message.user.email,
        "token": token,
        "preferences_url": tracking.preferences_url(message.pk),
    }
    return render(request, "campaigns/unsubscribe.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request, token):
    """Every channel's consent for the message's customer, without logging in."""
    message_id = tracking.message_id(token, "preferences")
    message = Message.objects.select_related("user").filter(pk=message_id).first() if message_id else None
    if message is None:
        return _not_found(request)
    user = message.user
    saved = False
    if request.method == "POST":
        answers = {channel: request.POST.get(channel) == "on" for channel in Channel.values}
        consents_update(user=user, answers=answers, source=ConsentSource.PREFERENCES)
        saved = True
    given = consents_of(user=user)
    channels = [
        {"key": channel, "label": Channel(channel).label, "wording": CONSENT_WORDING[channel], "given": given[channel]}
        for channel in Channel.values
    ]
    return render(request, "campaigns/preferences.html", {"channels": channels, "saved": saved, "email": user.email})


@login_required
@require_POST
def dismiss(request, pk):
    """The customer closes one of their messages in the store; back where they were."""
    onsite.message_dismiss(user=request.user, message_id=pk)
    back = request.POST.get("next") or "/account/"
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = "/account/"
    return HttpResponseRedirect(back)
