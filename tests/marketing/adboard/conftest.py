import pytest

from marketing.adboard import selectors
from tests.marketing.adboard.helpers import board_tree


@pytest.fixture(autouse=True)
def board_categories(request):
    """The starting tree the migration creates; transactional tests flush it, so it comes back."""
    if "django_db_setup" not in request.fixturenames and not request.node.get_closest_marker("django_db"):
        yield
        return
    request.getfixturevalue("_django_db_helper")
    board_tree()
    yield
    selectors.tree_changed()
