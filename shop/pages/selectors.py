from django.core.cache import cache

from shop.pages.models import Page

LINKS_KEY = "pages:links"


def links() -> dict[str, list[tuple[str, str]]]:
    """The published pages' (title, url) by group, for the footer and the menu: cached, one query to build."""
    found = cache.get(LINKS_KEY)
    if found is None:
        found = {group: [] for group in Page.Group.values}
        for page in Page.objects.filter(is_published=True).only("title", "slug", "group"):
            found[page.group].append((page.title, page.get_absolute_url()))
        cache.set(LINKS_KEY, found, 60 * 60)
    return found


def forget_links() -> None:
    cache.delete(LINKS_KEY)
