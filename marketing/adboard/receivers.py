"""The board's category tree is cached (selectors.categories): any change to it drops the cache."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from marketing.adboard import selectors
from marketing.adboard.models import AdCategory, AdField


@receiver(post_save, sender=AdCategory, dispatch_uid="adboard_tree_saved")
@receiver(post_delete, sender=AdCategory, dispatch_uid="adboard_tree_deleted")
@receiver(post_save, sender=AdField, dispatch_uid="adboard_field_saved")
@receiver(post_delete, sender=AdField, dispatch_uid="adboard_field_deleted")
def tree_changed(sender, **kwargs):
    selectors.tree_changed()
