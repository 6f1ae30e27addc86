import logging

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from marketing.discounts import index, services, tasks
from marketing.discounts.models import CartCode, DiscountCode, Promotion
from shop.cart.signals import cart_merged
from shop.cart.snapshot import carts_changed
from shop.catalog import cache as catalog_cache
from shop.catalog.models import Category
from shop.orders.signals import order_cancelled

log = logging.getLogger(__name__)


@receiver(order_cancelled, dispatch_uid="discounts_release_on_cancel")
def release_codes(sender, order_id, **kwargs):
    """Expired or cancelled before completing: the code and its use come back (a refund keeps them used).

    In the background with retries, so a failure here never fails the cancellation or the
    expiry job; if the task cannot even be queued, the sweep (tasks.release_missed_codes) does it.
    """
    try:
        tasks.release_order_codes.delay(order_id=order_id)
    except Exception:
        log.warning("Could not queue the code release of order %s; the sweep will catch up.", order_id, exc_info=True)


@receiver(cart_merged, dispatch_uid="discounts_keep_code_on_merge")
def keep_code(sender, source, target, user, **kwargs) -> list[str]:
    """A guest who entered a code and then logs in keeps it (or is told why not)."""
    return services.cart_code_merge(source=source, target=target, customer=user)


@receiver(post_save, sender=Promotion, dispatch_uid="discounts_promotion_saved")
@receiver(post_delete, sender=Promotion, dispatch_uid="discounts_promotion_deleted")
@receiver(m2m_changed, sender=Promotion.categories.through, dispatch_uid="discounts_promotion_categories")
@receiver(m2m_changed, sender=Promotion.products.through, dispatch_uid="discounts_promotion_products")
@receiver(m2m_changed, sender=Promotion.excluded_products.through, dispatch_uid="discounts_promotion_excluded")
@receiver(m2m_changed, sender=Promotion.customers.through, dispatch_uid="discounts_promotion_customers")
def promotion_changed(sender, **kwargs):
    """Product cards and pages show automatic promotions' prices: their cached offers are out of
    date; and carts read the promotions index again."""
    catalog_cache.offers_changed()
    index.changed()


@receiver(post_save, sender=Category, dispatch_uid="discounts_category_saved")
@receiver(post_delete, sender=Category, dispatch_uid="discounts_category_deleted")
def category_changed(sender, **kwargs):
    """The index holds category-wide promotions by category path, which a rename or a move changes."""
    index.changed()


@receiver(post_save, sender=DiscountCode, dispatch_uid="discounts_code_saved")
@receiver(post_delete, sender=DiscountCode, dispatch_uid="discounts_code_deleted")
def code_changed(sender, instance, **kwargs):
    """Carts priced with this code (shop.cart.snapshot) are out of date."""
    index.uses_changed(code_ids=[instance.pk])


@receiver(post_save, sender=CartCode, dispatch_uid="discounts_cart_code_saved")
def cart_code_changed(sender, instance, **kwargs):
    """A code put on a cart changes its price (taking one off says so itself: services)."""
    carts_changed([instance.cart_id])
