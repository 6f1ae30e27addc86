from django.contrib.admin.apps import AdminConfig


class StoreAdminConfig(AdminConfig):
    """Django's admin, with the store's site (shop/core/admin_site.py) as `admin.site`."""

    default_site = "shop.core.admin_site.StoreAdminSite"
