"""The sitemap's sections (django.contrib.sitemaps): the store's lists, its categories, its
active products (with when each last changed) and its published content pages.

Each section is read with one count and one query per page of up to `limit` URLs, whatever
the catalog's size; Django splits a section into pages (?p=2) past that.
"""

from django.apps import apps
from django.contrib.sitemaps import GenericSitemap, Sitemap
from django.urls import reverse

from shop.catalog.models import Category, Product


class StoreSitemap(Sitemap):
    """The home page and the list of all products."""

    def items(self):
        return ["catalog:home", "catalog:products"]

    def location(self, item):
        return reverse(item)


class CategorySitemap(Sitemap):
    def items(self):
        return Category.objects.only("slug").order_by("path")


class ChangedSitemap(GenericSitemap):
    """Rows with their `updated_at`, to the second (what crawlers read of it)."""

    def __init__(self, queryset):
        super().__init__({"queryset": queryset.only("slug", "updated_at").order_by("pk"), "date_field": "updated_at"})

    def lastmod(self, item):
        return item.updated_at.replace(microsecond=0)

    def get_latest_lastmod(self):
        latest = super().get_latest_lastmod()
        return latest and latest.replace(microsecond=0)


def page_sitemap() -> Sitemap:
    from shop.pages.models import Page

    return ChangedSitemap(Page.objects.filter(is_published=True))


def sections() -> dict[str, Sitemap]:
    found = {
        "store": StoreSitemap(),
        "categories": CategorySitemap(),
        "products": ChangedSitemap(Product.objects.active()),
    }
    if apps.is_installed("shop.pages"):
        found["pages"] = page_sitemap()
    return found
