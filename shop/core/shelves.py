"""The shelves seam (docs/architecture.md, "Shelves"): what other apps show below a page's main
content, named per page in settings.SHOP_SHELVES. The shop renders them without knowing who
made them; a page whose main part is cached keeps a marker (MARKER) where they go, filled for
each request, since a shelf may be the visitor's own."""

from __future__ import annotations

from django.conf import settings
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe

MARKER = "<!--shelves-->"


def render(request, page: str, **context) -> SafeString:
    """The page's shelves as HTML (empty when no app adds any). They get the request and `context`,
    not the context processors: a shelf has no form and reads what it needs itself."""
    html = [get_template(name).render({"request": request, **context}) for name in settings.SHOP_SHELVES.get(page, [])]
    return mark_safe("".join(html))  # noqa: S308 (our templates' output)


def fill(main: str, request, page: str, **context) -> SafeString:
    """A cached page's main part with its shelves where its marker is."""
    if MARKER not in main:
        return mark_safe(main)  # noqa: S308 (our templates' output)
    return mark_safe(main.replace(MARKER, render(request, page, **context), 1))  # noqa: S308
