import importlib

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "shop.catalog"
    label = "catalog"
    verbose_name = _("Catalog")

    def ready(self):
        from shop.catalog import receivers  # noqa: F401  (catalog writes drop cached pages)

        post_migrate.connect(keep_sqlite_search_triggers, sender=self, dispatch_uid="catalog_sqlite_search_triggers")


def keep_sqlite_search_triggers(sender, using="default", **kwargs):
    """SQLite's search index (migration 0004) is kept by triggers on the product table, and SQLite
    drops a table's triggers when a migration rebuilds the table (adding a column does): put back
    any that went missing, and rebuild the index, which missed the writes made meanwhile."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'catalog_product_fts'")
        if cursor.fetchone() is None:
            return  # not migrated that far
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'catalog_product'")
        present = {name for (name,) in cursor.fetchall()}
        statements = importlib.import_module("shop.catalog.migrations.0004_search_index").SQLITE_FORWARD
        triggers = [s for s in statements if s.startswith("CREATE TRIGGER")]
        missing = [s for s in triggers if s.split()[2] not in present]
        for statement in missing:
            cursor.execute(statement)
        if missing:
            cursor.execute("INSERT INTO catalog_product_fts(catalog_product_fts) VALUES ('rebuild')")
