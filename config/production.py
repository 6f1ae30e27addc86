"""Production fails closed: what a store outside the demo must be given, checked when settings load.

Outside the demo store (BAZAAR_DEMO=1 or DJANGO_DEBUG=1) every outside service is named in the
environment, and no demo value stands in for a missing one: the store refuses to start and lists
everything still to set, at once. `BAZAAR_LOCAL_SERVICES=1` lets production settings (debugging
off, secure cookies) run with this machine's stand-ins (SQLite, a folder cache and broker, email
to the console or to files, localstripe on loopback): for benchmarks and CI runs, never a shop.
The secret key and the hosts are checked even then.
"""

from __future__ import annotations

from collections.abc import Mapping

DEMO_SECRET_KEY = "dev-only-insecure-key-never-use-in-production-9f8e7d6c5b4a"
LOCALSTRIPE_VALUES = {"sk_test_localstripe", "pk_test_localstripe", "whsec_localstripe"}


def secret_key_problems(secret_key: str) -> list[str]:
    if secret_key == DEMO_SECRET_KEY:
        return ["SECRET_KEY is the demo store's key, which is public: set 50+ random characters of your own."]
    if len(secret_key) < 50 or len(set(secret_key)) < 5:
        return [
            "SECRET_KEY is too weak (under 50 characters, or too few different ones): set 50+ random characters, "
            "for example from: python -c 'import secrets; print(secrets.token_urlsafe(50))'."
        ]
    return []


def problems(env: Mapping[str, str], *, allowed_hosts: list[str]) -> list[str]:
    """What this environment lacks for a production store (empty: it may start)."""
    found = [*secret_key_problems(env.get("SECRET_KEY", ""))]
    if not allowed_hosts or "*" in allowed_hosts:
        found.append(
            "ALLOWED_HOSTS must name the store's hosts (shop.example.com,www.shop.example.com), never '*': "
            "a forged Host header would build password-reset and payment links to another site."
        )
    if env.get("BAZAAR_LOCAL_SERVICES", "").strip().lower() in {"1", "true", "yes", "on"}:
        return found
    wanted = {
        "DATABASE_URL": "PostgreSQL, e.g. postgres://user:pass@db:5432/shop",
        "REDIS_URL": "the cache, rate limits and Celery's broker shared by every machine, e.g. redis://redis:6379/0",
        "STRIPE_SECRET_KEY": "your Stripe secret key (sk_live_…, or sk_test_… for a staging store)",
        "STRIPE_PUBLISHABLE_KEY": "the publishable key of the same Stripe account",
        "STRIPE_WEBHOOK_SECRET": "the signing secret of your Stripe webhook endpoint",
        "SHOP_SITE_URL": "the public https:// address, for links in emails",
    }
    for name, what in wanted.items():
        value = env.get(name, "").strip()
        if not value:
            found.append(f"Set {name}: {what}.")
        elif value in LOCALSTRIPE_VALUES:
            found.append(f"{name} is the public localstripe demo value: set {what}.")
    site = env.get("SHOP_SITE_URL", "").strip()
    if site and not site.startswith("https://"):
        found.append(f"SHOP_SITE_URL={site!r} must start with https:// (emails link to it).")
    if not any(env.get(name, "").strip() for name in ("EMAIL_HOST", "ANYMAIL_ESP", "EMAIL_FILE_PATH")):
        found.append(
            "Set EMAIL_HOST (SMTP) or ANYMAIL_ESP (an email service) for order and account emails; "
            "EMAIL_FILE_PATH writes them to files instead."
        )
    return found


def refusal(found: list[str]) -> str:
    lines = "\n".join(f"  - {problem}" for problem in found)
    return (
        f"This store runs in production and is missing what production needs:\n{lines}\n"
        "See docs/deploy.md. On your own machine, for the demo store, set BAZAAR_DEMO=1 instead (make run does); "
        "to run production settings with this machine's stand-ins (benchmarks, CI), set BAZAAR_LOCAL_SERVICES=1."
    )
