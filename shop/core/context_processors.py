from django.conf import settings


def store(request):
    """What every storefront page needs: the store's name and the cart's size."""
    from shop.cart.selectors import cart_item_count

    return {
        "SHOP_NAME": settings.SHOP_NAME,
        "cart_count": lambda: cart_item_count(request),
        "page_scripts": settings.SHOP_PAGE_SCRIPTS,
    }
