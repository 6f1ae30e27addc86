"""The assistant's email: a member of staff's answer to a shopper's question (models.TicketEmail)."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from marketing.assistant.models import TicketEmail


def ticket_answer(email: TicketEmail) -> EmailMultiAlternatives:
    email = TicketEmail.objects.select_related("ticket", "turn").get(pk=email.pk)
    site = settings.SHOP_SITE_URL.rstrip("/")
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "question": email.ticket.question,
            "answer": email.turn.text,
            "shop_name": settings.SHOP_NAME,
            "link": site + reverse("assistant:chat"),
        }
        text = render_to_string("assistant/email/answer.txt", context)
        html = render_to_string("assistant/email/answer.html", context)
        subject = _("Your question to %(shop)s: our answer") % {"shop": settings.SHOP_NAME}
        message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [email.to])
    message.attach_alternative(html, "text/html")
    return message
