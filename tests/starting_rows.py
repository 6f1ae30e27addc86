"""The rows migrations start a store with: the board's categories, the seven flows, the content
pages, the recommendation shelves and the loyalty program. A transactional test (browser tests,
race tests) flushes the database and takes them with it; they are put back after each such test
(tests/conftest.py), as the migrations make them, so every test starts from a migrated store."""

import importlib

from django.apps import apps

MIGRATIONS = [  # (app label, model, migration module, its function)
    ("adboard", "AdCategory", "marketing.adboard.migrations.0002_search_index_and_categories", "create_tree"),
    ("campaigns", "Flow", "marketing.campaigns.migrations.0005_starting_flows", "create"),
    ("pages", "Page", "shop.pages.migrations.0002_starter_pages", "add_pages"),
    ("recommendations", "ShelfSetting", "marketing.recommendations.migrations.0002_shelves", "add_shelves"),
    ("loyalty", "Program", "loyalty.migrations.0002_program_and_tiers", "create"),
]


def restore() -> None:
    for label, model, module, function in MIGRATIONS:
        if not apps.get_model(label, model).objects.exists():
            getattr(importlib.import_module(module), function)(apps, None)
    from django.core.cache import cache

    cache.clear()  # menus, trees and the flows that are on were read from rows that are back
