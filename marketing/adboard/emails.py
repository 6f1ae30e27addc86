"""The board's emails (models.Notice), each with a text and an HTML part. No email ever shows
another member's address: messages are read on the site."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from marketing.adboard.models import Ad, Conversation, Message, Notice


def _subject(notice: Notice, context: dict) -> str:
    kind = notice.kind
    if kind == Notice.Kind.MESSAGE:
        return _("New message about “%(title)s”") % {"title": context["ad"].title}
    if kind == Notice.Kind.SAVED_SEARCH:
        return _("New ads for your search “%(name)s”") % {"name": notice.data.get("name", "")}
    if kind == Notice.Kind.EXPIRY:
        return _("Your ad “%(title)s” expires soon") % {"title": context["ad"].title}
    if kind == Notice.Kind.REJECTED:
        return _("Your ad “%(title)s” needs a change") % {"title": context["ad"].title}
    return _("Your ad “%(title)s” is published") % {"title": context["ad"].title}


def build(notice: Notice) -> EmailMultiAlternatives:
    site = settings.SHOP_SITE_URL.rstrip("/")
    data = notice.data or {}
    with translation.override(settings.LANGUAGE_CODE):
        context = {"notice": notice, "user": notice.user, "shop_name": settings.SHOP_NAME, "site_url": site}
        if notice.kind == Notice.Kind.MESSAGE:
            conversation = Conversation.objects.select_related("ad").get(pk=data["conversation"])
            message = Message.objects.filter(pk=data.get("message")).first()
            context.update(
                ad=conversation.ad,
                conversation=conversation,
                # The first lines only; the thread is read on the site (members' addresses stay private).
                excerpt=(message.body[:300] if message and not message.hidden else ""),
                link=site + conversation.get_absolute_url(),
            )
        elif notice.kind == Notice.Kind.SAVED_SEARCH:
            ids = data.get("ads", [])
            ads = {a.pk: a for a in Ad.objects.public().filter(pk__in=ids)}
            context.update(ads=[ads[i] for i in ids if i in ads], link=site + reverse("adboard:saved"))
        else:
            ad = Ad.objects.get(pk=data["ad"])
            context.update(ad=ad, reason=data.get("reason", ""), link=site + ad.get_absolute_url())
            context["mine"] = site + reverse("adboard:mine")
        text = render_to_string(f"adboard/email/{notice.kind}.txt", context)
        html = render_to_string(f"adboard/email/{notice.kind}.html", context)
        message = EmailMultiAlternatives(
            _subject(notice, context), text, settings.DEFAULT_FROM_EMAIL, [notice.user.email]
        )
    message.attach_alternative(html, "text/html")
    return message


def nothing_to_send(notice: Notice) -> bool:
    """A saved-search email whose ads all left the board since is not sent."""
    if notice.kind != Notice.Kind.SAVED_SEARCH:
        return False
    return not Ad.objects.public().filter(pk__in=notice.data.get("ads", [])).exists()
