"""Visits without cookies: who is on one visit, where it came from, on what device.

A visit is recognised by a keyed hash of the client's address and browser string, held only in
the cache for as long as the visit lasts (ANALYTICS_VISIT_MINUTES of inactivity, 30 by default,
ends it): the database gets a random id of our own, never the address, the browser string or
the hash. A browser that asks not to be tracked (`DNT: 1` or `Sec-GPC: 1`) gets no id at all:
its events are counted, tied to nothing. Robots (the browser strings ua-parser knows as
spiders) are not recorded.

The source is the visit's first page's: its `utm_source`/`utm_medium`/`utm_campaign`, else the
site it came from (search engines are "organic", social networks "social", other sites
"referral"), else "direct". A link with other UTM parameters starts a new visit.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import time
import uuid
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from ua_parser import parse_device

from marketing.analytics.models import Device
from shop.core.ratelimit import client_ip

SEARCH_ENGINES = {
    "google": "Google",
    "bing": "Bing",
    "duckduckgo": "DuckDuckGo",
    "yahoo": "Yahoo",
    "ecosia": "Ecosia",
    "baidu": "Baidu",
    "yandex": "Yandex",
    "qwant": "Qwant",
    "startpage": "Startpage",
}
SOCIAL = {
    "facebook": "Facebook",
    "instagram": "Instagram",
    "t": "Twitter",  # t.co
    "twitter": "Twitter",
    "x": "Twitter",
    "linkedin": "LinkedIn",
    "pinterest": "Pinterest",
    "tiktok": "TikTok",
    "reddit": "Reddit",
    "youtube": "YouTube",
}


REFRESH_SECONDS = 60


@dataclass
class Visit:
    id: str | None  # None: not to be tracked (its events carry no visit)
    device: str
    source: str
    medium: str
    campaign: str
    seen: float = 0.0

    @property
    def fields(self) -> dict:
        return {"device": self.device, "source": self.source, "medium": self.medium, "campaign": self.campaign}


def not_tracked(request) -> bool:
    return request.headers.get("DNT") == "1" or request.headers.get("Sec-GPC") == "1"


@functools.lru_cache(maxsize=2048)
def device_of(agent: str) -> str | None:
    """The device class of a browser string; None for a robot. 'Mobi' marks phones (as MDN advises).

    Kept per string: a store's traffic comes from a few hundred of them, and a robot is known
    without a look in the cache."""
    if not agent.startswith("Mozilla/"):
        return Device.OTHER  # API clients and apps
    found = parse_device(agent)
    if found is not None and found.family == "Spider":
        return None
    if "iPad" in agent or "Tablet" in agent or ("Android" in agent and "Mobi" not in agent):
        return Device.TABLET
    if "Mobi" in agent:
        return Device.MOBILE
    return Device.DESKTOP


def source_of(request) -> tuple[str, str, str]:
    """(source, medium, campaign) of a visit's first request."""
    params = request.GET
    if params.get("utm_source"):
        return (
            params["utm_source"].strip().lower()[:64],
            (params.get("utm_medium") or "none").strip().lower()[:32],
            (params.get("utm_campaign") or "").strip()[:100],
        )
    referrer = urlsplit(request.headers.get("Referer", ""))
    host = (referrer.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    if not host or host == request.get_host().split(":")[0].lower():
        return "direct", "none", ""
    labels = host.split(".")
    name = labels[-2] if len(labels) >= 2 else host
    if name in SEARCH_ENGINES:
        return SEARCH_ENGINES[name], "organic", ""
    if name in SOCIAL:
        return SOCIAL[name], "social", ""
    return host[:64], "referral", ""


def _key(request, agent: str) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"{client_ip(request)}|{agent}".encode(), hashlib.sha256
    ).hexdigest()
    return f"analytics:visit:{digest[:40]}"


def visit_for(request) -> Visit | None:
    """The request's visit (started if new, kept alive if not); None for a robot."""
    agent = request.headers.get("User-Agent", "")[:512]
    device = device_of(agent)
    if device is None:
        return None  # a robot: no key made, nothing read or kept
    if not_tracked(request):
        return Visit(None, device, *source_of(request))
    key = _key(request, agent)
    now = time.time()
    seconds = settings.ANALYTICS_VISIT_MINUTES * 60
    known = cache.get(key)
    visit = Visit(**known) if isinstance(known, dict) else None  # (a robot's mark, kept by older versions: not a visit)
    if visit is not None and request.GET.get("utm_source"):
        if source_of(request) != (visit.source, visit.medium, visit.campaign):
            visit = None  # a new campaign link: a new visit
    if visit is None or now - visit.seen > seconds:
        visit = Visit(uuid.uuid4().hex, device, *source_of(request))
    elif now - visit.seen < REFRESH_SECONDS:
        return visit  # kept alive a moment ago: no write (the visit may end up to a minute early)
    visit.seen = now
    cache.set(key, asdict(visit), seconds)
    return visit
