from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from shop.catalog import cache as catalog_cache
from shop.catalog.models import (
    Attribute,
    AttributeValue,
    Category,
    Product,
    ProductAttributeValue,
    ProductImage,
    ProductType,
    Review,
    Variant,
    VariantOption,
)


@receiver(post_save, sender=Attribute, dispatch_uid="catalog_attribute_saved")
@receiver(post_delete, sender=Attribute, dispatch_uid="catalog_attribute_deleted")
@receiver(post_save, sender=AttributeValue, dispatch_uid="catalog_attribute_value_saved")
@receiver(post_delete, sender=AttributeValue, dispatch_uid="catalog_attribute_value_deleted")
@receiver(post_save, sender=ProductType, dispatch_uid="catalog_product_type_saved")
@receiver(post_delete, sender=ProductType, dispatch_uid="catalog_product_type_deleted")
@receiver(m2m_changed, sender=ProductType.variant_attributes.through, dispatch_uid="catalog_type_variant_attrs")
@receiver(m2m_changed, sender=ProductType.product_attributes.through, dispatch_uid="catalog_type_product_attrs")
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


@receiver(post_save, sender=Variant, dispatch_uid="catalog_variant_saved")
@receiver(post_delete, sender=Variant, dispatch_uid="catalog_variant_deleted")
@receiver(post_save, sender=ProductAttributeValue, dispatch_uid="catalog_product_value_saved")
@receiver(post_delete, sender=ProductAttributeValue, dispatch_uid="catalog_product_value_deleted")
def product_values_changed(sender, instance, **kwargs):
    """Its product's page and the lists (a size or colour filters and counts them)."""
    catalog_cache.products_changed([instance.product_id])


@receiver(post_save, sender=VariantOption, dispatch_uid="catalog_option_saved")
@receiver(post_delete, sender=VariantOption, dispatch_uid="catalog_option_deleted")
def option_changed(sender, instance, **kwargs):
    product_id = Variant.objects.filter(pk=instance.variant_id).values_list("product_id", flat=True).first()
    if product_id is not None:
        catalog_cache.products_changed([product_id])
    else:  # its variant went first (a cascade)
        catalog_cache.changed()
