"""The points-expiry reminder: a text and an HTML part, in the store's language."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import ngettext

from loyalty.models import ExpiryNotice
from loyalty.program import current, grouped


def expiry_notice(notice: ExpiryNotice) -> EmailMultiAlternatives:
    user = notice.account.user
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "notice": notice,
            "user": user,
            "value": current().points_value(notice.points),
            "shop_name": settings.SHOP_NAME,
            "LANGUAGE_CODE": settings.LANGUAGE_CODE,
            "points_url": settings.SHOP_SITE_URL.rstrip("/") + reverse("loyalty:points"),
        }
        text = render_to_string("loyalty/email/expiring.txt", context)
        html = render_to_string("loyalty/email/expiring.html", context)
        subject = ngettext(
            "%(points)s of your points expires soon", "%(points)s of your points expire soon", notice.points
        ) % {"points": grouped(notice.points)}
        message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [user.email])
    message.attach_alternative(html, "text/html")
    return message
