from django.dispatch import receiver

from marketing.discounts.services import redemptions_release
from shop.orders.signals import order_cancelled


@receiver(order_cancelled, dispatch_uid="discounts_release_on_cancel")
def release_codes(sender, order_id, **kwargs):
    """Expired or cancelled before completing: the code and its use come back (a refund keeps them used)."""
    redemptions_release(order_id=order_id)
