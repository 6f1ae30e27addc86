"""Loyalty follows the shop's events (DESIGN.md section 4); every receiver is idempotent."""

from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from loyalty import program, services
from loyalty.models import Program, Tier
from shop.accounts.signals import user_registered
from shop.catalog.models import Review
from shop.core.errors import ShopError
from shop.orders.signals import order_cancelled, order_paid, order_refunded

REFERRAL_SESSION_KEY = "loyalty_referral_code"


@receiver(order_paid, dispatch_uid="loyalty_earn_on_paid")
def earn_on_paid(sender, order_id, **kwargs):
    services.order_points_earn(order_id=order_id)
    services.referral_reward(order_id=order_id)


@receiver(order_refunded, dispatch_uid="loyalty_settle_on_refund")
@receiver(order_cancelled, dispatch_uid="loyalty_settle_on_cancel")
def settle(sender, order_id, **kwargs):
    services.order_points_settle(order_id=order_id)


@receiver(user_registered, dispatch_uid="loyalty_signup_reward")
def signup(sender, user_id, **kwargs):
    services.signup_reward(user_id=user_id)


@receiver(post_save, sender=Review, dispatch_uid="loyalty_review_reward")
def review_posted(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        transaction.on_commit(lambda: services.review_reward(review_id=instance.pk))


@receiver(user_logged_in, dispatch_uid="loyalty_referral_on_login")
def referral_from_link(sender, request, user, **kwargs):
    """A customer who came through a friend's link (loyalty.views.referral_landing) and then signed up
    or logged in is attached to that friend; a refused code is simply dropped."""
    code = request.session.pop(REFERRAL_SESSION_KEY, None) if hasattr(request, "session") else None
    if code:
        try:
            services.referral_attach(friend=user, code=code)
        except ShopError:
            pass


@receiver(post_save, sender=Program, dispatch_uid="loyalty_program_saved")
@receiver(post_save, sender=Tier, dispatch_uid="loyalty_tier_saved")
@receiver(post_delete, sender=Tier, dispatch_uid="loyalty_tier_deleted")
def rules_changed(sender, **kwargs):
    transaction.on_commit(program.forget)
    program.forget()
