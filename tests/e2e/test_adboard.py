"""The ad board in a real browser: a member posts a car with two photos, a moderator approves it,
a visitor finds it with a misspelt word and a year filter, another member writes to the seller,
the seller answers and the buyer rates the seller. Pages fit a 390 px phone; what the screens
showed is saved in test-artifacts/e2e/ (the README's screenshots come from the demo store:
docs/screenshots/take.py)."""

from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from marketing.adboard import services
from marketing.adboard.models import Ad
from tests.conftest import PASSWORD
from tests.marketing.adboard.helpers import jpeg_bytes, make_ad, make_member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 800}


def screenshot(page: Page, name: str) -> None:
    """What the screen shows, reduced to 256 colours, in test-artifacts/e2e/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("networkidle")
    page.wait_for_function("[...document.images].every(img => img.complete)")
    page.evaluate("window.scrollTo(0, 0)")
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path)
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def fits_a_phone(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def log_in(page: Page, email: str) -> None:
    page.goto("/account/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="My account").first).to_be_visible()


@pytest.fixture(autouse=True)
def _no_board_emails(monkeypatch):
    """The board's emails are tested on their own; here they are left unsent (the outbox keeps them)."""
    monkeypatch.setattr("marketing.adboard.tasks.send_notices_soon", lambda: None)


@pytest.fixture
def people():
    seller = make_member(first_name="Sofia", last_name="Lind", email="sofia@example.org")
    buyer = make_member(first_name="Omar", last_name="Haddad", email="omar@example.org")
    # Other ads, so that the board looks like one and the filters have something to leave out.
    make_ad(title="Saab 9-3 convertible", details={"year": 2004}, price="2900", city="Salem")
    make_ad(title="Volvo 240 for parts", details={"year": 1991}, price="600", condition="for_parts")
    make_ad(title="City bike with basket", category_slug="bicycles", price="180", city="Eugene")
    make_ad(title="Oak dining table", category_slug="furniture", price="350")
    make_ad(title="Kids' books, a box", category_slug="books-music", price_kind="free", price=None)
    return seller, buyer


def new_page(browser, browser_context_args, viewport=WIDE) -> Page:
    context = browser.new_context(**{**browser_context_args, "viewport": viewport})
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def test_a_car_is_posted_approved_found_discussed_and_its_seller_rated(
    page: Page, browser, browser_context_args, people, tmp_path
):
    seller, buyer = people
    photos = []
    for i, color in enumerate([(40, 80, 140), (160, 160, 170)]):
        path = tmp_path / f"volvo-{i}.jpg"
        path.write_bytes(jpeg_bytes(800, 600, color=color))
        photos.append(path)

    # The seller posts the car: the category first, then the form with a car's details.
    log_in(page, seller.email)
    page.goto("/ads/")
    page.locator(".board-nav").get_by_role("link", name="Post an ad").click()
    page.get_by_role("link", name="Cars").click()
    page.get_by_label("Title").fill("Volvo V70 estate, one owner")
    page.get_by_label("Description").fill("Full service history. Winter tyres included.\nTow bar.")
    page.get_by_label("Condition").select_option("good")
    page.get_by_label("Year").fill("2014")
    page.get_by_label("Mileage").fill("128000")
    page.get_by_label("Fuel").select_option("diesel")
    page.get_by_label("Gearbox").select_option("automatic")
    page.get_by_label("Fixed price").check()
    page.get_by_label("Amount").fill("6400")
    page.get_by_label("City").fill("Portland")
    page.get_by_label("Region").fill("Oregon")
    page.get_by_label("Photos").set_input_files(photos)
    page.set_viewport_size(PHONE)
    assert fits_a_phone(page)
    screenshot(page, "adboard-post-phone")
    page.set_viewport_size(WIDE)
    page.get_by_role("button", name="Post the ad").click()
    expect(page.get_by_text("A moderator checks it before it is shown.").first).to_be_visible()
    ad = Ad.objects.get(owner=seller)
    assert ad.status == Ad.Status.PENDING and ad.photos.count() == 2
    assert ad.details == {"year": 2014, "mileage": 128000, "fuel": "diesel", "gearbox": "automatic"}

    # A moderator approves it.
    assert services.ad_approve(ad)

    # A visitor finds it with a misspelt word, then narrows to recent cars.
    visitor = new_page(browser, browser_context_args)
    visitor.goto("/ads/")
    visitor.get_by_label("Search the ads").fill("vovlo")
    visitor.get_by_label("Search the ads").press("Enter")
    expect(visitor.get_by_text("Showing results for")).to_be_visible()
    visitor.locator(".tree").get_by_role("link", name="Vehicles").click()
    visitor.locator(".tree").get_by_role("link", name="Cars").click()
    visitor.locator("#id_f_year_min").fill("2010")
    visitor.get_by_role("button", name="Show results").click()
    cards = visitor.locator(".board-card")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Volvo V70 estate, one owner")
    expect(cards.first).to_contain_text("$6,400.00")
    expect(visitor.get_by_role("link", name="Remove the filter Year from 2010")).to_be_visible()
    # With JavaScript a new sort applies at once (the Sort button is for browsers without it).
    visitor.get_by_label("Sort by").select_option("-price")
    visitor.wait_for_url("**sort=-price**")
    expect(visitor.get_by_role("link", name="Remove the filter Year from 2010")).to_be_visible()
    screenshot(visitor, "adboard-list")
    visitor.set_viewport_size(PHONE)
    visitor.goto("/ads/?q=volvo")
    assert fits_a_phone(visitor)
    screenshot(visitor, "adboard-list-phone")
    visitor.locator(".filters-toggle").click()
    expect(visitor.locator("#filters")).to_be_visible()
    assert fits_a_phone(visitor)
    visitor.context.close()

    # Another member writes to the seller.
    shopper = new_page(browser, browser_context_args)
    log_in(shopper, buyer.email)
    shopper.goto(ad.get_absolute_url())
    expect(shopper.get_by_role("heading", name="Volvo V70 estate, one owner")).to_be_visible()
    expect(shopper.locator(".board-facts")).to_contain_text("128,000 km")
    expect(shopper.locator(".board-seller")).to_contain_text("Sofia L.")
    assert "sofia@example.org" not in shopper.content()
    screenshot(shopper, "adboard-ad")
    shopper.get_by_role("button", name="Photo 2 of 2").click()
    expect(shopper.locator(".gallery-main")).to_have_attribute("src", ad.photos.all()[1].image.url)
    shopper.get_by_label("Message").fill("Hello! Is the car still for sale? Could I see it on Saturday?")
    shopper.get_by_role("button", name="Send").click()
    expect(shopper.get_by_text("Could I see it on Saturday?")).to_be_visible()
    shopper.set_viewport_size(PHONE)
    shopper.goto(ad.get_absolute_url())
    assert fits_a_phone(shopper)
    shopper.set_viewport_size(WIDE)

    # The seller answers from their messages.
    page.goto("/ads/messages/")
    expect(page.get_by_text("Unread", exact=True)).to_be_visible()
    page.get_by_role("link", name="Omar H.").click()
    page.get_by_label("Your reply").fill("Yes, Saturday at ten suits me.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Yes, Saturday at ten suits me.")).to_be_visible()

    # The buyer reads the answer and rates the seller.
    shopper.goto("/ads/messages/")
    shopper.get_by_role("link", name="Sofia L.").click()
    expect(shopper.get_by_text("Yes, Saturday at ten suits me.")).to_be_visible()
    shopper.get_by_role("link", name="Rate the seller").click()
    shopper.get_by_label("5 stars").check()
    shopper.get_by_label("Comment").fill("Honest about the car, on time.")
    shopper.get_by_role("button", name="Publish my rating").click()
    expect(shopper.get_by_text("Thank you: your rating is published.")).to_be_visible()
    expect(shopper.locator(".board-profile")).to_contain_text("1 rating")
    expect(shopper.locator(".board-rating")).to_contain_text("Honest about the car, on time.")
    shopper.set_viewport_size(PHONE)
    assert fits_a_phone(shopper)
    shopper.context.close()
