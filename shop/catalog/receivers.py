from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from shop.catalog import cache as catalog_cache
from shop.catalog.models import Category, Product, ProductImage, Review


@receiver(post_save, sender=Category, dispatch_uid="catalog_category_saved")
@receiver(post_delete, sender=Category, dispatch_uid="catalog_category_deleted")
@receiver(post_save, sender=Product, dispatch_uid="catalog_product_saved")
@receiver(post_delete, sender=Product, dispatch_uid="catalog_product_deleted")
@receiver(post_save, sender=ProductImage, dispatch_uid="catalog_image_saved")
@receiver(post_delete, sender=ProductImage, dispatch_uid="catalog_image_deleted")
@receiver(post_save, sender=Review, dispatch_uid="catalog_review_saved")
@receiver(post_delete, sender=Review, dispatch_uid="catalog_review_deleted")
def catalog_changed(sender, **kwargs):
    """Cached catalog pages and the category tree are out of date."""
    catalog_cache.changed()
