"""A test helper: a Stripe HTTP call made inside a database transaction fails the test.

pytest-django's `db` fixture runs each test inside a transaction (and Django's TestCase adds
one per test), so `connection.in_atomic_block` is always true there. The guard therefore
counts the atomic blocks open when the test starts and fails a call made with more open:
a transaction.atomic() (or a select_for_update lock) of the code under test. Calls are
checked where every Stripe request passes, the SDK's requestor, so no call escapes by
going around shop.payments.stripe_client.
"""

from __future__ import annotations

from django.db import connection
from stripe._api_requestor import _APIRequestor


def guard_stripe_calls(monkeypatch) -> list[str]:
    """Patch the Stripe SDK for this test; returns the list of offending calls (also raised at once)."""
    baseline = len(connection.atomic_blocks)
    offences: list[str] = []
    real = _APIRequestor.request_raw

    def checked(self, method, url, *args, **kwargs):
        depth = len(connection.atomic_blocks) - baseline
        if depth > 0:
            offences.append(f"{method.upper()} {url}")
            raise AssertionError(
                f"Stripe {method.upper()} {url} called inside a database transaction ({depth} atomic block(s) open)"
            )
        return real(self, method, url, *args, **kwargs)

    monkeypatch.setattr(_APIRequestor, "request_raw", checked)
    return offences
