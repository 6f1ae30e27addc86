from django.conf import settings
from django.utils.functional import SimpleLazyObject

from shop.core.pwa import THEME_COLOR


def store(request):
    """What every storefront page needs: the store's name and the cart's size."""
    from shop.cart.selectors import cart_item_count
    from shop.pages.selectors import links

    # An error page for a request refused before the middleware ran (a forged Host header) has
    # no user or session: it shows an empty cart rather than failing again.
    ready = hasattr(request, "user") and hasattr(request, "session")
    return {
        "SHOP_NAME": settings.SHOP_NAME,
        "THEME_COLOR": THEME_COLOR,
        "cart_count": lambda: cart_item_count(request) if ready else 0,
        "page_scripts": settings.SHOP_PAGE_SCRIPTS,
        "page_includes": settings.SHOP_PAGE_INCLUDES,
        "content_pages": SimpleLazyObject(links),  # the footer's and menu's help pages
    }
