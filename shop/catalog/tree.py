from shop.catalog.models import Category


def build_tree(categories: list[Category]) -> list[Category]:
    """Give each category a `children_list` and return the roots; input is in tree (path) order."""
    by_id = {}
    roots = []
    for category in categories:
        category.children_list = []
        by_id[category.pk] = category
        parent = by_id.get(category.parent_id)
        (parent.children_list if parent else roots).append(category)
    return roots
