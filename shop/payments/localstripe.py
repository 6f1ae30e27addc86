"""Helpers for localstripe, the offline Stripe used by `make run` and the tests."""

import time
import urllib.error
import urllib.parse
import urllib.request


def register_webhook(base: str, *, url: str, secret: str, wait: float = 0) -> bool:
    """Make localstripe deliver its events to `url`, signed with `secret`. Retries for `wait` seconds."""
    data = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
    deadline = time.monotonic() + wait
    while True:
        try:
            request = urllib.request.Request(f"{base}/_config/webhooks/bazaar", data=data, method="POST")  # noqa: S310
            urllib.request.urlopen(request, timeout=3).read()  # noqa: S310  (loopback, our own setting)
            return True
        except (urllib.error.URLError, OSError):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.3)
