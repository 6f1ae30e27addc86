import pytest

from tests.shop.payments.stripe_guard import guard_stripe_calls


@pytest.fixture(autouse=True)
def stripe_outside_transactions(monkeypatch):
    """Every payments test fails if the code under test calls Stripe inside a transaction or row lock.

    The offences are also checked at the end, in case the code swallowed the AssertionError."""
    offences = guard_stripe_calls(monkeypatch)
    yield offences
    assert not offences, f"Stripe called inside a transaction: {offences}"
