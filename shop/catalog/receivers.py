from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from shop.catalog.models import Category
from shop.catalog.selectors import forget_category_tree


@receiver(post_save, sender=Category, dispatch_uid="catalog_category_tree_saved")
@receiver(post_delete, sender=Category, dispatch_uid="catalog_category_tree_deleted")
def category_changed(sender, **kwargs):
    """The cached category tree (selectors.category_tree) is out of date."""
    forget_category_tree()
