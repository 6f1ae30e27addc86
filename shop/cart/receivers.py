from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_save
from django.dispatch import receiver

from shop.cart.models import Cart, CartLine
from shop.cart.pricing import customer_changed
from shop.cart.selectors import SESSION_KEY
from shop.cart.services import cart_merge
from shop.cart.snapshot import carts_changed
from shop.orders.models import Order


@receiver(user_logged_in, dispatch_uid="cart_merge_on_login")
def merge_anonymous_cart(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    token = request.session.pop(SESSION_KEY, None)
    source = Cart.objects.filter(token=token, user__isnull=True).first() if token else None
    if source is None:
        return
    for note in cart_merge(source=source, user=user):
        messages.info(request, note)


@receiver(post_save, sender=CartLine, dispatch_uid="cart_line_saved_kept")
def line_changed(sender, instance, **kwargs):
    """The priced cart kept for this cart (shop.cart.snapshot) is out of date. Deletes say so
    themselves (services._touch, checkout): a delete receiver would turn each one DELETE into
    a SELECT and a DELETE."""
    carts_changed([instance.cart_id])


@receiver(post_save, sender=Order, dispatch_uid="cart_order_saved_kept")
def order_saved(sender, instance, **kwargs):
    """A customer's orders decide first-order offers, spend and referrals: their priced cart is out of date."""
    customer_changed([instance.user_id])
