from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from shop.catalog import cache as catalog_cache
from shop.catalog.models import Category, Product, ProductImage, Review


@receiver(post_save, sender=Category, dispatch_uid="catalog_category_saved")
@receiver(post_delete, sender=Category, dispatch_uid="catalog_category_deleted")
def category_changed(sender, **kwargs):
    """Names and paths show everywhere (the tree, breadcrumbs, which promotions reach a product)."""
    catalog_cache.changed()


@receiver(post_save, sender=Product, dispatch_uid="catalog_product_saved")
@receiver(post_delete, sender=Product, dispatch_uid="catalog_product_deleted")
def product_changed(sender, instance, **kwargs):
    """Its card and page, and the lists (its price, name or dates may move it, or in or out)."""
    catalog_cache.products_changed([instance.pk])


@receiver(post_save, sender=ProductImage, dispatch_uid="catalog_image_saved")
@receiver(post_delete, sender=ProductImage, dispatch_uid="catalog_image_deleted")
@receiver(post_save, sender=Review, dispatch_uid="catalog_review_saved")
@receiver(post_delete, sender=Review, dispatch_uid="catalog_review_deleted")
def product_part_changed(sender, instance, **kwargs):
    """Its product's card and page only (the rating that sorts lists is the product's own update)."""
    catalog_cache.products_changed([instance.product_id], lists=False)
