from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from shop.pages.models import Page
from shop.pages.selectors import forget_links


@receiver([post_save, post_delete], sender=Page, dispatch_uid="pages_forget_links")
def _page_changed(sender, **kwargs):
    transaction.on_commit(forget_links)
