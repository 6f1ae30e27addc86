"""A message's words for one recipient: personalised, with tracked links and the unsubscribe
links and headers every marketing email carries (docs/campaigns.md, "Writing a message").

Staff write subjects and bodies with a few placeholders ({{ first_name }}, {{ code }},
{{ points }}...). They are rendered by an engine of their own, which loads no template
files and shows an unknown name as nothing, so a message can use only what it is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape

from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from loyalty import selectors as loyalty_selectors
from marketing.campaigns import tracking
from marketing.recommendations import selectors as recommendation_selectors
from shop.accounts.models import Channel
from shop.core.money import Money

ENGINE = Engine(dirs=[], app_dirs=False, string_if_invalid="", autoescape=True)
PLACEHOLDERS = ("first_name", "last_name", "email", "code", "points", "points_value", "products", "store")


@dataclass
class Rendered:
    subject: str
    preheader: str
    html: str
    text: str
    url: str
    headers: dict = field(default_factory=dict)


def check(source: str) -> None:
    """Raise TemplateSyntaxError when staff's text cannot be rendered (checked when saved)."""
    ENGINE.from_string(source or "")


def _fill(source: str, values: dict, *, autoescape: bool = True) -> str:
    try:
        return ENGINE.from_string(source or "").render(Context(values, autoescape=autoescape))
    except TemplateSyntaxError:
        return source or ""  # checked when saved; a template changed since is sent as written


def values_for(
    user, *, code: str = "", extra: dict | None = None, points: bool = True, products: bool = False, tag: str = ""
) -> dict:
    """The placeholders' values; the loyalty figures (two queries) only when `points`, the
    recommended products only when `products`."""
    summary = loyalty_selectors.summary(user=user) if points else None
    return {
        "products": _products(user, tag) if products else [],
        # What a flow knows of its occasion (the order's number, the points expiring...).
        **{k: v for k, v in (extra or {}).items() if isinstance(v, (str, int))},
        "first_name": user.first_name or _("there"),
        "last_name": user.last_name,
        "email": user.email,
        "code": code,
        "points": summary.available if summary else "",
        "points_value": summary.value if summary else "",
        "store": settings.SHOP_NAME,
    }


def _products(user, tag: str) -> list[dict]:
    """The customer's recommended products (marketing.recommendations), each with a link that tells
    the analytics where the visit came from."""
    links = tracking.destination
    return [
        {
            "name": product.name,
            "price": Money.of(product.price, settings.SHOP_CURRENCY).format(),
            "url": links(product.get_absolute_url(), campaign=tag or "campaign", medium=Channel.EMAIL),
        }
        for product in recommendation_selectors.for_customer(user=user, size=4)
    ]


def text_of(html: str) -> str:
    """A plain-text part from HTML, when staff wrote none: paragraphs kept, tags dropped."""
    text = re.sub(r"(?is)<(script|style).*?</\1>", "", html)
    text = re.sub(r"(?i)<br\s*/?>|</p>|</h[1-6]>|</li>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"\n{3,}", "\n\n", unescape(text)).strip()


def render(
    *, content, user, channel: str, message_id: int | None, code: str = "", campaign: str = "", extra=None
) -> Rendered:
    """The message for this recipient. With `message_id` None (a preview, a test send), links
    are left as written and the unsubscribe links lead to the preferences page."""
    sources = " ".join(t or "" for t in (content.subject, content.preheader, content.body_html, content.body_text))
    values = values_for(
        user, code=code, extra=extra, points="points" in sources, products="products" in sources, tag=campaign
    )
    subject = _fill(content.subject, values, autoescape=False).strip()
    preheader = _fill(content.preheader, values, autoescape=False).strip()
    url = content.url or "/"
    if channel != Channel.EMAIL:
        text = _fill(content.body_text, values, autoescape=False).strip()
        if message_id is not None and content.url:
            url = (
                tracking.click_url(message_id, content.links.index(content.url))
                if content.url in content.links
                else url
            )
        return Rendered(subject=subject, preheader="", html="", text=text, url=url)

    links = content.links
    body = content.body_html or ""
    if message_id is not None:
        body = tracking.rewrite(body, links, lambda n: tracking.click_url(message_id, n))
    html_body = _fill(body, values)
    text = _fill(content.body_text, values, autoescape=False).strip() or text_of(html_body)
    if message_id is not None:
        unsubscribe, preferences = tracking.unsubscribe_url(message_id), tracking.preferences_url(message_id)
        pixel = tracking.open_url(message_id)
    else:
        unsubscribe = preferences = tracking.absolute("/account/")
        pixel = ""
    html = render_to_string(
        "campaigns/email/layout.html",
        {
            "subject": subject,
            "preheader": preheader,
            "body": html_body,
            "unsubscribe_url": unsubscribe,
            "preferences_url": preferences,
            "pixel_url": pixel,
            "store": settings.SHOP_NAME,
            "site_url": settings.SHOP_SITE_URL,
        },
    )
    text += "\n\n-- \n" + _("Unsubscribe: %(url)s\nYour preferences: %(prefs)s") % {
        "url": unsubscribe,
        "prefs": preferences,
    }
    headers = {}
    if message_id is not None:
        # RFC 2369 and RFC 8058: mail apps show their own "Unsubscribe" button, which POSTs
        # "List-Unsubscribe=One-Click" to the URL without opening a page.
        headers = {"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    return Rendered(subject=subject, preheader=preheader, html=html, text=text, url=url, headers=headers)
