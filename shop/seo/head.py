"""Absolute URLs and JSON-LD for the head of cached pages.

A cached page is the same for every visitor and every host name the store answers to, so
what it holds cannot name the host. Its absolute URLs (canonical, og:url, og:image, the
JSON-LD's) are written with ORIGIN, and the request's own scheme and host replace it when
the page is served (`with_origin`, the `{% page_head %}` tag). The host is one Django has
checked against ALLOWED_HOSTS, so a forged Host header never reaches a page.
"""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.safestring import SafeString, mark_safe

# A reserved name (RFC 2606): never a real host, easy to spot if one were ever left unreplaced.
ORIGIN = "https://origin.invalid"

# What would end or open markup inside <script>: written as JSON escapes, so a product called
# "</script><script>alert(1)</script>" stays text (as django.utils.html.json_script does).
_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def absolute(url: str) -> str:
    """A site path as an absolute URL on whatever host serves the page (a URL elsewhere, such as
    files kept on another host, as it is)."""
    return url if "://" in url else f"{ORIGIN}{url}"


def origin(request) -> str:
    return f"{request.scheme}://{request.get_host()}"


def with_origin(request, html: str) -> SafeString:
    # Safe: `html` is our own rendered, escaped markup; the origin is a host Django validated.
    return mark_safe(html.replace(ORIGIN, origin(request)))  # noqa: S308


def json_ld(data: dict) -> SafeString:
    """A <script type="application/ld+json"> element whose text cannot break out of it."""
    text = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))
    # Safe: every character that could end the element or start markup is escaped above.
    return mark_safe(f'<script type="application/ld+json">{text.translate(_SCRIPT_ESCAPES)}</script>')  # noqa: S308
