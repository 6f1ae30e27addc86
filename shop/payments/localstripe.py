"""Helpers for localstripe, the offline Stripe used by `make run` and the tests."""

import json
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


def instance(base: str) -> str | None:
    """The token the localstripe at `base` was started with (manage.py localstripe --instance); None if none answers."""
    return _get_json(f"{base}/_config/instance", {}).get("instance")


def webhooks(base: str) -> dict[str, str]:
    """Where the localstripe at `base` sends its events: {webhook id: url}."""
    return _get_json(f"{base}/_config/webhooks", {})


def _get_json(url: str, default: dict) -> dict:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310  (loopback, our own setting)
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return default
