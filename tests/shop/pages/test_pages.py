"""Content pages: staff write them in the admin, shoppers reach them from the footer and the menu."""

import importlib

import pytest
from django.urls import reverse

from shop.pages.models import Page
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def starter_pages():
    """The pages a new store gets from its migration (browser tests that flush tables remove them)."""
    from django.apps import apps

    migration = importlib.import_module("shop.pages.migrations.0002_starter_pages")
    migration.add_pages(apps, None)


def test_a_new_store_has_the_pages_shoppers_look_for_linked_from_every_page(client):
    html = client.get("/").content.decode()
    for slug in ("shipping", "returns", "payment", "faq", "contact", "about"):
        assert f'href="/pages/{slug}/"' in html, slug
        response = client.get(f"/pages/{slug}/")
        assert response.status_code == 200
        assert "<h1>" in response.content.decode()


def test_a_page_shows_its_text_and_when_it_was_updated(client):
    response = client.get("/pages/shipping/")
    html = response.content.decode()
    assert "Standard delivery" in html and "Last updated" in html


def test_scripts_and_handlers_in_a_body_are_removed_when_saved_and_when_shown(client):
    body = '<p onclick="steal()">Fits</p><script>steal()</script><a href="javascript:x()">x</a>'
    page = Page.objects.create(title="Sizes", slug="sizes", body=body)
    page.refresh_from_db()
    assert "script" not in page.body and "onclick" not in page.body and "javascript:" not in page.body
    Page.objects.filter(pk=page.pk).update(body="<p>ok</p><script>steal()</script>")  # around save()
    html = client.get("/pages/sizes/").content.decode()
    assert "<p>ok</p>" in html and "steal()" not in html


def test_a_draft_is_hidden_from_shoppers_and_shown_to_staff_marked_as_a_draft(client):
    Page.objects.create(title="Gift cards", slug="gift-cards", body="<p>Soon</p>", is_published=False)
    assert client.get("/pages/gift-cards/").status_code == 404
    assert 'href="/pages/gift-cards/"' not in client.get("/").content.decode()
    client.force_login(StaffFactory())
    response = client.get("/pages/gift-cards/")
    assert response.status_code == 200 and "Draft" in response.content.decode()


def test_publishing_a_page_puts_it_in_the_footer_at_once(client, django_capture_on_commit_callbacks):
    client.get("/")  # the links are cached now
    with django_capture_on_commit_callbacks(execute=True):
        Page.objects.create(title="Size guide", slug="size-guide", body="<p>Fits</p>", group=Page.Group.HELP)
    assert 'href="/pages/size-guide/"' in client.get("/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        Page.objects.filter(slug="size-guide").first().delete()
    assert 'href="/pages/size-guide/"' not in client.get("/").content.decode()


def test_staff_edit_a_page_in_the_admin(client):
    client.force_login(StaffFactory(is_superuser=True))
    page = Page.objects.get(slug="returns")
    url = reverse("admin:pages_page_change", args=[page.pk])
    assert client.get(url).status_code == 200
    data = {
        "title": "Returns",
        "slug": "returns",
        "description": "Free returns",
        "body": "<p>60 days now</p>",
        "group": "help",
        "position": 2,
        "is_published": "on",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert "60 days now" in client.get("/pages/returns/").content.decode()
