from django.shortcuts import get_object_or_404, render
from django.utils.safestring import mark_safe

from shop.pages.models import Page, clean_html


def page(request, slug):
    """A content page; staff also see drafts, marked as such, to check them before publishing."""
    pages = Page.objects.all() if request.user.is_staff else Page.objects.filter(is_published=True)
    found = get_object_or_404(pages, slug=slug)
    # Cleaned again as shown: a body written around save() (a data load, SQL) is no exception.
    body = mark_safe(clean_html(found.body))  # noqa: S308 (cleaned to the allowed tags just above)
    return render(request, "pages/page.html", {"page": found, "body": body})
