"""Loyalty follows the shop's events (docs/architecture.md, "Domain signals"); every receiver is idempotent."""

import logging

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from loyalty import program, tasks
from loyalty.models import Account, CartPoints, LedgerEntry, Program, Referral, Tier
from shop.accounts.signals import user_registered
from shop.cart.pricing import customer_changed
from shop.cart.snapshot import carts_changed
from shop.catalog.signals import review_published, review_removed
from shop.orders.signals import order_cancelled, order_paid, order_refunded

log = logging.getLogger(__name__)


def _enqueue(task, **kwargs) -> None:
    """Run in the background with retries: a failure must not fail the payment or refund that
    triggered it. If the broker is down, the hourly sweep (tasks.catch_up_orders) does it later."""
    try:
        task.delay(**kwargs)
    except Exception:
        log.warning("Could not enqueue %s%s; the sweep will catch up.", task.name, kwargs, exc_info=True)


@receiver(order_paid, dispatch_uid="loyalty_earn_on_paid")
def earn_on_paid(sender, order_id, **kwargs):
    if "user_id" in kwargs and kwargs["user_id"] is None:
        return  # a guest's order: nobody earns and no referral is decided (no task to run for nothing)
    _enqueue(tasks.earn_for_order, order_id=order_id)


@receiver(order_refunded, dispatch_uid="loyalty_settle_on_refund")
@receiver(order_cancelled, dispatch_uid="loyalty_settle_on_cancel")
def settle(sender, order_id, **kwargs):
    _enqueue(tasks.settle_order, order_id=order_id)


@receiver(user_registered, dispatch_uid="loyalty_signup_reward")
def signup(sender, user_id, **kwargs):
    _enqueue(tasks.signup_reward, user_id=user_id)


@receiver(review_published, dispatch_uid="loyalty_review_reward")
def review_posted(sender, review_id, **kwargs):
    """Published (not merely written: under pre-moderation a pending review earns nothing yet)."""
    _enqueue(tasks.review_reward, review_id=review_id)


@receiver(review_removed, dispatch_uid="loyalty_review_reward_reverse")
def review_taken_down(sender, review_id, **kwargs):
    """A moderator rejected or removed it: its reward is taken back."""
    _enqueue(tasks.review_reward_reverse, review_id=review_id)


@receiver(post_save, sender=Program, dispatch_uid="loyalty_program_saved")
@receiver(post_save, sender=Tier, dispatch_uid="loyalty_tier_saved")
@receiver(post_delete, sender=Tier, dispatch_uid="loyalty_tier_deleted")
def rules_changed(sender, **kwargs):
    transaction.on_commit(program.forget)
    program.forget()


# -- priced carts (shop.cart.snapshot): what pricing reads about a member changed ------------


@receiver(post_save, sender=Account, dispatch_uid="loyalty_account_priced")
@receiver(post_delete, sender=Account, dispatch_uid="loyalty_account_priced_deleted")
def account_changed(sender, instance, **kwargs):
    customer_changed([instance.pk])  # the account's key is its user's


@receiver(post_save, sender=LedgerEntry, dispatch_uid="loyalty_entry_priced")
def entry_written(sender, instance, **kwargs):
    customer_changed([instance.account_id])


@receiver(post_save, sender=Referral, dispatch_uid="loyalty_referral_priced")
@receiver(post_delete, sender=Referral, dispatch_uid="loyalty_referral_priced_deleted")
def referral_changed(sender, instance, **kwargs):
    customer_changed([instance.friend_id])


@receiver(post_save, sender=CartPoints, dispatch_uid="loyalty_cart_points_saved")
def cart_points_changed(sender, instance, **kwargs):
    # Taking them off says so itself (services.cart_points_remove): a delete receiver would cost a query.
    carts_changed([instance.cart_id])
