"""The installable storefront: the manifest and the service worker, served from the site's root
with the right types and headers, allowed by the Content-Security-Policy, and linked from every page."""

import io
import json
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from PIL import Image

from shop.core import pwa
from tests.shop.core.test_csp import policy

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]


def test_it_serves_the_manifest_a_browser_installs_the_store_from(client, settings):
    settings.SHOP_NAME = "Bazaar Outlet"

    response = client.get("/manifest.webmanifest")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    assert "max-age=86400" in response["Cache-Control"]
    manifest = json.loads(response.content)
    assert manifest["name"] == "Bazaar Outlet"
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == ("/", "/", "standalone")
    assert manifest["theme_color"] == pwa.THEME_COLOR
    assert {icon["purpose"] for icon in manifest["icons"]} == {"any", "maskable"}


def test_the_manifests_icons_are_our_pngs_at_their_stated_sizes(client):
    manifest = client.get("/manifest.webmanifest").json()

    assert {icon["sizes"] for icon in manifest["icons"]} >= {"192x192", "512x512"}
    for icon in manifest["icons"]:
        path = finders.find(icon["src"].removeprefix("/static/"))
        assert path, icon["src"]
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert f"{image.width}x{image.height}" == icon["sizes"]


def test_it_serves_the_service_worker_from_the_root_never_cached(client):
    response = client.get("/sw.js")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Service-Worker-Allowed"] == "/"
    assert response["Cache-Control"] == "no-cache"
    assert response["X-Content-Type-Options"] == "nosniff"
    body = response.content.decode()
    store = json.loads(re.search(r"const STORE = (\{.*?\});", body).group(1))
    assert store == {
        "name": "Bazaar",
        "home": "/",
        "icon": "/static/shop/icons/icon-192.png",
        "badge": "/static/shop/icons/badge-96.png",
    }
    assert 'addEventListener("push"' in body
    assert 'addEventListener("notificationclick"' in body


def test_the_service_worker_opens_only_addresses_on_this_site(client):
    body = client.get("/sw.js").content.decode()

    assert "parsed.origin === self.location.origin" in body
    assert 'addEventListener("fetch"' not in body  # it never stands between the shopper and the pages


def test_it_answers_304_while_the_service_worker_is_unchanged(client):
    etag = client.get("/sw.js")["ETag"]

    response = client.get("/sw.js", HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert client.get("/sw.js", HTTP_IF_NONE_MATCH='"another"').status_code == 200


def test_both_answer_only_reads(client):
    assert client.post("/sw.js").status_code == 405
    assert client.post("/manifest.webmanifest").status_code == 405


def test_every_page_links_the_manifest_the_theme_colour_and_the_worker(client):
    page = client.get("/").content.decode()

    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert f'<meta name="theme-color" content="{pwa.THEME_COLOR}">' in page
    assert '<link rel="apple-touch-icon" href="/static/shop/icons/icon-192.png">' in page
    assert 'data-service-worker="/sw.js"' in page


def test_the_policy_lets_the_page_load_the_manifest_and_the_worker(client):
    directives = policy(client.get("/"))

    # No manifest-src or worker-src of their own: they fall back to default-src and script-src.
    assert "manifest-src" not in directives and "worker-src" not in directives
    assert "'self'" in directives["default-src"]
    assert "'self'" in directives["script-src"]
    # The worker runs under the same strict policy as the pages.
    worker = policy(client.get("/sw.js"))
    assert worker["script-src"][0] == "'self'" and "'unsafe-inline'" not in worker["script-src"]


def test_the_icons_command_draws_the_icons_the_manifest_lists(tmp_path, monkeypatch):
    from django.core.management import call_command

    from shop.core.management.commands import app_icons

    monkeypatch.setattr(app_icons, "ICONS_DIR", tmp_path)

    call_command("app_icons", stdout=io.StringIO())

    for name, size, _purpose in pwa.ICONS:
        with Image.open(tmp_path / name) as image:
            assert image.size == (size, size)
        assert (ROOT / "shop/core/static/shop/icons" / name).is_file()
