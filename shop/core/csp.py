"""The Content-Security-Policy: django-csp's middleware, plus Stripe's origins.

settings.CONTENT_SECURITY_POLICY is the policy for the store's own files. Stripe.js and
the API it calls come from where the pay page loads them (shop/orders/views.py): from
STRIPE_API_BASE when it is set (localstripe offline), else from Stripe itself, whose card
form lives in its own frames. The setting is read for each response, so the policy always
allows the Stripe.js the page actually loads (runstore and the tests move localstripe to
another port). docs/architecture.md, "Security headers".
"""

from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings

STRIPE_JS = ["https://js.stripe.com", "https://*.js.stripe.com"]
STRIPE_API = ["https://api.stripe.com"]
STRIPE_FRAMES = ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"]


def stripe_sources() -> dict[str, list[str]]:
    """The directives Stripe.js needs, as additions to the store's policy."""
    if settings.STRIPE_API_BASE:
        parts = urlsplit(settings.STRIPE_API_BASE)
        origin = f"{parts.scheme}://{parts.netloc}"
        return {"script-src": [origin], "connect-src": [origin]}
    return {"script-src": STRIPE_JS, "connect-src": STRIPE_API, "frame-src": STRIPE_FRAMES}


class StoreCSPMiddleware(CSPMiddleware):
    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only=report_only)
        if not report_only:
            update = {key: list(values) for key, values in stripe_sources().items()}
            for key, values in (parts.update or {}).items():  # a view's own @csp_update comes on top
                update.setdefault(key, []).extend([values] if isinstance(values, str) else values)
            parts.update = update
        return parts
