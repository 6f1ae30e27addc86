from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from shop.cart.models import Cart
from shop.cart.selectors import SESSION_KEY
from shop.cart.services import cart_merge


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
