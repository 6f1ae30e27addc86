"""Builders for the board's tests (pages, services, search): members, ads made the way a member
posts them (services.ad_create with a real photo), and small JPEGs drawn with Pillow."""

from __future__ import annotations

import importlib
import io
import itertools

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from marketing.adboard import selectors, services
from marketing.adboard.models import Ad, AdCategory, AdField
from shop.core.uploads import clean_image
from tests.factories import UserFactory

_numbers = itertools.count(1)
_starting_tree = importlib.import_module("marketing.adboard.migrations.0002_search_index_and_categories")


def board_tree() -> None:
    """The board's starting categories, as migration 0002 makes them: a transactional test
    (browser tests, race tests) starts from a flushed database without them."""
    if not AdCategory.objects.exists():
        from django.apps import apps

        _starting_tree.create_tree(apps, None)
    selectors.tree_changed()


def jpeg_bytes(w: int = 400, h: int = 300, color=(70, 110, 160)) -> bytes:
    """A real JPEG picture of w × h pixels (the board refuses pictures under 200 px a side)."""
    out = io.BytesIO()
    picture = Image.new("RGB", (w, h), color)
    # A stripe, so that two pictures of one colour still differ and compress like photos.
    for x in range(0, w, 7):
        for y in range(0, h, 11):
            picture.putpixel((x, y), (255 - color[0], 255 - color[1], 255 - color[2]))
    picture.save(out, "JPEG", quality=80)
    return out.getvalue()


def jpeg_upload(name: str = "photo.jpg", **kw) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg_bytes(**kw), content_type="image/jpeg")


def photo(**kw):
    """A cleaned picture, as services.ad_create takes them."""
    return clean_image(jpeg_upload(**kw))


def make_member(**kw):
    """A customer with an email, a first and a last name (factory defaults), and their board row."""
    user = UserFactory(**kw)
    services.member(user)
    return user


def default_details(category) -> dict:
    """Values for the details a category requires (a car's year, mileage and fuel...)."""
    values = {}
    for field in selectors.fields_for(category):
        if not field.required:
            continue
        if field.kind == AdField.Kind.NUMBER:
            values[field.key] = field.min_value if field.min_value is not None else 1
            if field.key == "year":
                values[field.key] = 2015
            elif field.key == "mileage":
                values[field.key] = 90000
        elif field.kind == AdField.Kind.CHOICE:
            values[field.key] = field.choices[0]
        elif field.kind == AdField.Kind.YES_NO:
            values[field.key] = True
        else:
            values[field.key] = "yes"
    return values


def make_ad(owner=None, category_slug: str = "cars", status: str = "published", **kw) -> Ad:
    """An ad posted through services.ad_create with one generated photo (or `photos=[...]`),
    then brought to `status`: published (approved), pending (as posted), rejected (with
    `reason`), hidden, sold, expired or deleted. Other keywords go to ad_create."""
    owner = owner or make_member()
    board_tree()
    category = selectors.category_by_slug(category_slug)
    assert category is not None, f"no ad category {category_slug!r}"
    n = next(_numbers)
    reason = kw.pop("reason", "The photo does not show the item.")
    fields = {
        "title": f"Ad number {n}",
        "description": f"A good thing in fine order, number {n}.",
        "price": "100",
        "price_kind": "fixed",
        "condition": "good",
        "city": "Portland",
        "region": "Oregon",
        "details": {**default_details(category), **kw.pop("details", {})},
        "photos": [photo()],
    }
    fields.update(kw)
    ad = services.ad_create(owner, category=category, **fields)
    if status == "pending":
        return ad
    if status in ("published", "sold", "expired", "hidden") and ad.status == Ad.Status.PENDING:
        services.ad_approve(ad)
    if status == "rejected":
        services.ad_reject(ad, reason=reason)
    elif status == "sold":
        services.ad_mark_sold(ad, owner)
    elif status == "deleted":
        services.ad_delete(ad, owner)
    elif status in ("expired", "hidden"):
        Ad.objects.filter(pk=ad.pk).update(status=status)
    ad.refresh_from_db()
    return ad
