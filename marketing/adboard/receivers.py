"""The board's category tree is cached (selectors.categories): any change to it drops the cache.
A row saved or deleted outside the services' updates (the admin's edits, a deleted account) makes
the cached lists out of date too (cache.py; the services say so themselves after their updates)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from marketing.adboard import cache, selectors
from marketing.adboard.models import Ad, AdCategory, AdField, AdPhoto, Member


@receiver(post_save, sender=AdCategory, dispatch_uid="adboard_tree_saved")
@receiver(post_delete, sender=AdCategory, dispatch_uid="adboard_tree_deleted")
@receiver(post_save, sender=AdField, dispatch_uid="adboard_field_saved")
@receiver(post_delete, sender=AdField, dispatch_uid="adboard_field_deleted")
def tree_changed(sender, **kwargs):
    selectors.tree_changed()


@receiver(post_save, sender=Ad, dispatch_uid="adboard_lists_ad_saved")
@receiver(post_delete, sender=Ad, dispatch_uid="adboard_lists_ad_deleted")
@receiver(post_save, sender=AdPhoto, dispatch_uid="adboard_lists_photo_saved")
@receiver(post_delete, sender=AdPhoto, dispatch_uid="adboard_lists_photo_deleted")
@receiver(post_save, sender=AdCategory, dispatch_uid="adboard_lists_category_saved")
@receiver(post_delete, sender=AdCategory, dispatch_uid="adboard_lists_category_deleted")
@receiver(post_delete, sender=Member, dispatch_uid="adboard_lists_member_deleted")
def lists_changed(sender, raw=False, **kwargs):
    if not raw:
        cache.changed()
