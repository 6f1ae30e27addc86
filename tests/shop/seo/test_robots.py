"""robots.txt keeps crawlers off the visitor's own pages, the back office, the API and query
strings (search, filters, sorting), and names the sitemap."""

from urllib.robotparser import RobotFileParser

import pytest


def rules(client, **extra) -> tuple[str, RobotFileParser]:
    response = client.get("/robots.txt", **extra)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    text = response.content.decode()
    parser = RobotFileParser()
    parser.parse(text.splitlines())
    return text, parser


@pytest.mark.parametrize(
    "path",
    [
        "/cart/",
        "/checkout/",
        "/checkout/review/",
        "/account/",
        "/account/orders/",
        "/orders/B-1/",
        "/admin/",
        "/api/v1/products/",
    ],
)
def test_it_keeps_crawlers_off_private_pages(client, path):
    _text, parser = rules(client)

    assert not parser.can_fetch("*", path)


@pytest.mark.parametrize("path", ["/", "/products/", "/category/dresses/", "/product/wrap-dress/", "/media/p.jpg"])
def test_it_lets_crawlers_read_the_catalog(client, path):
    _text, parser = rules(client)

    assert parser.can_fetch("*", path)


def test_it_keeps_crawlers_off_query_strings_but_a_lists_pages(client):
    text, _parser = rules(client)

    lines = text.splitlines()
    # Python's parser does not read wildcards; search engines do (the longest rule wins).
    assert "Disallow: /*?" in lines
    assert "Allow: /*?page=" in lines
    assert "Allow: /sitemap" in lines


def test_it_names_the_sitemap_on_the_host_asked(client, settings):
    settings.ALLOWED_HOSTS = ["shop.example"]

    text, parser = rules(client, HTTP_HOST="shop.example", secure=True)

    assert parser.site_maps() == ["https://shop.example/sitemap.xml"]
    assert text.endswith("\n")


def test_it_answers_only_reads(client):
    assert client.head("/robots.txt").status_code == 200
    assert client.post("/robots.txt").status_code == 405
