import importlib

import pytest
from django.apps import apps

from marketing.adboard import selectors
from marketing.adboard.models import AdCategory

_tree = importlib.import_module("marketing.adboard.migrations.0002_search_index_and_categories")


@pytest.fixture(autouse=True)
def board_categories(request):
    """The starting tree the migration creates; transactional tests flush it, so it comes back."""
    if "django_db_setup" not in request.fixturenames and not request.node.get_closest_marker("django_db"):
        yield
        return
    request.getfixturevalue("_django_db_helper")
    if not AdCategory.objects.exists():
        _tree.create_tree(apps, None)
    selectors.tree_changed()
    yield
    selectors.tree_changed()
