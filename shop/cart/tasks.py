import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from shop.cart.services import carts_purge_stale


@shared_task
def purge_stale_carts() -> int:
    """Scheduled: forget anonymous carts nobody has touched for SHOP_ANONYMOUS_CART_DAYS."""
    cutoff = timezone.now() - dt.timedelta(days=settings.SHOP_ANONYMOUS_CART_DAYS)
    return carts_purge_stale(older_than=cutoff)
