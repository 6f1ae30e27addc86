"""What the assistant does when other parts of the store act."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from marketing.assistant import services


@receiver(user_logged_in, dispatch_uid="assistant_claim_on_login")
def claim_guest_conversations(sender, request, user, **kwargs):
    if request is not None:
        services.conversations_claim(request, user=user)
