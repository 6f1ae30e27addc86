"""Domain errors raised by services and mapped, in one place, to HTTP answers.

Views and the API never build error responses for business rules themselves:
they let these propagate (the API's exception handler maps them; storefront
views show the message).
"""

from django.utils.translation import gettext_lazy as _


class ShopError(Exception):
    status_code = 400
    code = "invalid"
    default_message = _("The request could not be processed.")

    def __init__(self, message=None, *, field: str | None = None):
        self.message = message or self.default_message
        self.field = field
        super().__init__(str(self.message))


class NotFound(ShopError):
    status_code = 404
    code = "not_found"
    default_message = _("Not found.")


class Conflict(ShopError):
    status_code = 409
    code = "conflict"


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    default_message = _("Not enough of this product is in stock.")


class ProductUnavailable(ShopError):
    code = "product_unavailable"
    default_message = _("This product is not available.")


class RateLimited(ShopError):
    status_code = 429
    code = "rate_limited"
    default_message = _("Too many attempts. Please wait a few minutes and try again.")
