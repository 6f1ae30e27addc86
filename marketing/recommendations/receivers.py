"""Writes that change what shelves show: a build, staff's rules and shelf settings replace the
shelves' token (cache.changed); a paid order replaces its customer's "already bought" list; a
product viewed or added to the cart goes to the front of the visitor's recent products."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from marketing.analytics import selectors as analytics
from marketing.recommendations import cache as recs_cache
from marketing.recommendations.models import Rule, ShelfSetting
from shop.core.tracking import facts_tracked
from shop.orders.signals import order_paid

RECENT_FACTS = {analytics.VIEW_ITEM, analytics.ADD_TO_CART}


@receiver(post_save, sender=Rule, dispatch_uid="recommendations_rule_saved")
@receiver(post_delete, sender=Rule, dispatch_uid="recommendations_rule_deleted")
@receiver(post_save, sender=ShelfSetting, dispatch_uid="recommendations_setting_saved")
@receiver(post_delete, sender=ShelfSetting, dispatch_uid="recommendations_setting_deleted")
def shelves_changed(sender, **kwargs):
    recs_cache.changed()


@receiver(order_paid, dispatch_uid="recommendations_order_paid")
def customer_bought(sender, order_id, user_id=None, **kwargs):
    if user_id is not None:
        recs_cache.bought_changed(user_id)


@receiver(facts_tracked, dispatch_uid="recommendations_recent_products")
def products_seen(sender, request, facts, **kwargs):
    """After the response: the request's product views and cart additions, for the personal shelves
    of the visitor's next page (the event log gets them in its own time, in batches)."""
    events = [
        (fact.name, fact.data["product_id"])
        for fact in facts
        if fact.name in RECENT_FACTS and fact.data.get("product_id")
    ]
    if request is None or not events:
        return
    visit = analytics.visit_id(request)
    if visit is not None:
        recs_cache.saw("v", visit, events, start=True)
    customer_id = analytics.tracked_customer_id(getattr(request, "user", None))
    if customer_id is not None:
        recs_cache.saw("c", customer_id, events, start=False)
