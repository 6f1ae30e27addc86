"""Signed links for what needs no login: opens, clicks, unsubscribing and preferences.

Each link carries the message's id signed with the site's secret and a salt per purpose, so a
link made for one message cannot be turned into another's, nor an open into an unsubscribe.
A click names a link by its number among the links stored with the content when it was
saved: the redirect can only lead where staff pointed it (no open redirect).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core import signing
from django.urls import reverse

PURPOSES = ("open", "click", "unsubscribe", "preferences")


def token(message_id: int, purpose: str) -> str:
    return signing.Signer(salt=f"campaigns.{purpose}").sign(str(message_id))


def message_id(value: str, purpose: str) -> int | None:
    """The message a token names, or None when it was not signed by us for this purpose."""
    try:
        return int(signing.Signer(salt=f"campaigns.{purpose}").unsign(value))
    except (signing.BadSignature, ValueError):
        return None


def absolute(path: str) -> str:
    return settings.SHOP_SITE_URL.rstrip("/") + path


def open_url(message_id: int) -> str:
    return absolute(reverse("campaigns:open", args=[token(message_id, "open")]))


def click_url(message_id: int, link: int) -> str:
    return absolute(reverse("campaigns:click", args=[token(message_id, "click"), link]))


def unsubscribe_url(message_id: int) -> str:
    return absolute(reverse("campaigns:unsubscribe", args=[token(message_id, "unsubscribe")]))


def preferences_url(message_id: int) -> str:
    return absolute(reverse("campaigns:preferences", args=[token(message_id, "preferences")]))


class _Links(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if trackable(href) and href not in self.found:
                self.found.append(href)


def trackable(href: str) -> bool:
    """Web links staff wrote in full; not mailto:, anchors or links made of template tags."""
    return bool(re.match(r"^(https?://|/)", href)) and "{" not in href and not href.startswith("//")


def links_in(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html or "")
    return parser.found


def destination(link: str, *, campaign: str, medium: str) -> str:
    """Where a click goes: the stored link, on the store's own site when it is a path, with the
    campaign named for the analytics (utm_*), unless the link names one already."""
    url = absolute(link) if link.startswith("/") else link
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if urlsplit(settings.SHOP_SITE_URL).netloc == parts.netloc and "utm_source" not in query:
        query.update({"utm_source": "bazaar", "utm_medium": medium, "utm_campaign": campaign})
    return urlunsplit(parts._replace(query=urlencode(query)))


def rewrite(html: str, links: list[str], url_for) -> str:
    """The HTML with each stored link's href replaced by `url_for(number)` (its tracked URL)."""
    numbers = {link: n for n, link in enumerate(links)}

    def swap(match):
        quote, href = match.group(1), match.group(2)
        n = numbers.get(_unescape(href))
        return match.group(0) if n is None else f"href={quote}{url_for(n)}{quote}"

    return re.sub(r"""href=(["'])(.*?)\1""", swap, html)


def _unescape(value: str) -> str:
    return value.replace("&amp;", "&")
