"""robots.txt and sitemap.xml, with absolute URLs on the host the request came to.

The store does not use the sites framework: Django's sitemap views then take the domain
from the request (RequestSite), which Django has checked against ALLOWED_HOSTS.
"""

from django.contrib.sitemaps import views as sitemap_views
from django.http import HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_safe

from shop.catalog import cache as catalog_cache
from shop.seo.head import origin
from shop.seo.sitemaps import sections

# Never crawled: what is the visitor's own (cart, checkout, account, orders), the back office,
# the API and the analytics beacon.
PRIVATE = [
    ("cart:detail", None),
    ("orders:checkout", None),
    ("accounts:profile", None),
    ("orders:lookup", "orders/"),
    ("admin:index", None),
    ("api:schema", "api/"),
    ("analytics:collect", "analytics/"),
]


def _private_paths() -> list[str]:
    paths = []
    for name, prefix in PRIVATE:
        path = reverse(name)
        if prefix:  # the part of the path that holds all of them
            path = path[: path.index(prefix) + len(prefix)]
        paths.append(path)
    return paths


@require_safe
def robots_txt(request):
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in _private_paths())]
    # Search results, filters and sorting are query strings: endless variations of the lists.
    # A list's further pages and the sitemap's own pages stay open (the longest rule wins).
    lines += ["Disallow: /*?", "Allow: /*?page=", f"Allow: {reverse('sitemap').removesuffix('.xml')}"]
    lines += ["", f"Sitemap: {origin(request)}{reverse('sitemap')}", ""]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")


def _cached(request, name: str, parts: tuple, render) -> HttpResponse:
    """The sitemap as built for this scheme and host, kept while the catalog's lists and tree hold.

    Content pages have no token of their own: they show up within SHOP_PAGE_CACHE_SECONDS.
    A bad or missing page number raises Http404 inside render(), so nothing is kept.
    """

    def build():
        response = render()
        response.render()
        return response.content, response.headers.get("Last-Modified")

    content, last_modified = catalog_cache.cached(
        name,
        (request.scheme, request.get_host(), *parts),
        build,
        on=(catalog_cache.LISTS, catalog_cache.TREE),
    )
    response = HttpResponse(content, content_type="application/xml")
    if last_modified:
        response.headers["Last-Modified"] = last_modified
    response.headers["X-Robots-Tag"] = "noindex"  # the sitemap itself is not a page to show in results
    return response


@require_safe
def sitemap_index(request):
    return _cached(
        request,
        "sitemap-index",
        (),
        lambda: sitemap_views.index(
            request, sections(), template_name="seo/sitemap_index.xml", sitemap_url_name="sitemap-section"
        ),
    )


@require_safe
def sitemap_section(request, section: str):
    page = request.GET.get("p", "1")
    page = str(int(page)) if page.isdigit() else page  # ?p=02 is page 2, kept once
    return _cached(
        request,
        "sitemap",
        (section, page),
        lambda: sitemap_views.sitemap(request, sections(), section=section, template_name="seo/sitemap.xml"),
    )
