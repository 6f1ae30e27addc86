"""A shopper chooses a size and a colour in a real browser and buys that variant; at desktop and
phone widths, with and without JavaScript."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from marketing.discounts.models import Promotion
from shop.orders.models import Order
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_checkout_journey import GOOD_CARD, fill_card
from tests.variants import variant, with_variants

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def tee():
    # S/M/L × Red/Blue: M Blue is sold out, L Blue was never made, L Red costs more.
    return with_variants(
        name="Oxford Tee",
        slug="oxford-tee",
        sku="TEE",
        price=Decimal("20.00"),
        stock={("S", "Red"): 5, ("M", "Red"): 2, ("L", "Red"): 9, ("S", "Blue"): 4, ("M", "Blue"): 0},
        missing=[("L", "Blue")],
        prices={("L", "Red"): Decimal("24.00")},
        material="Cotton",
    )


def snap(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=ARTIFACTS / f"variants-{name}.png", full_page=False)


def no_sideways_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def option(page: Page, attribute: str, name: str):
    return page.get_by_role("group", name=re.compile(rf"^{attribute}")).get_by_text(name, exact=True)


def test_a_shopper_chooses_a_size_and_colour_and_buys_it(page: Page, live_server, localstripe, tee):
    page.goto(tee.get_absolute_url())
    expect(page.locator("[data-variant-price] .now")).to_have_text("From $20.00")
    expect(page.get_by_text("Choose your options to see the stock.")).to_be_visible()
    # No "Show price and stock" with the script: choices show at once.
    expect(page.get_by_role("button", name="Show price and stock")).to_have_count(0)

    option(page, "Colour", "Blue").click()
    # With blue chosen, M is sold out and L does not exist.
    expect(page.locator('label[for="opt-size-m"]')).to_contain_text("(sold out)")
    expect(page.locator('label[for="opt-size-l"]')).to_contain_text("(not available)")
    expect(page.locator('label[for="opt-size-s"]')).not_to_contain_text("(")
    option(page, "Size", "M").click()
    expect(page.locator("[data-variant-stock]")).to_have_text("Sold out")
    expect(page.get_by_role("button", name="Add to cart")).to_be_disabled()

    option(page, "Colour", "Red").click()
    option(page, "Size", "L").click()
    large_red = variant(tee, "L", "Red")
    expect(page.locator("[data-variant-price] .now")).to_have_text("$24.00")
    expect(page.locator("[data-variant-sku]")).to_have_text(large_red.sku)
    expect(page.locator("[data-variant-stock]")).to_have_text("In stock")
    expect(page).to_have_url(re.compile(rf"\?variant={large_red.pk}$"))
    expect(page.get_by_role("group", name="Colour: Red")).to_be_visible()
    snap(page, "desktop-chosen")

    # The address names the variant: opened again, the page shows it chosen.
    page.goto(page.url)
    expect(page.locator("[data-variant-price] .now")).to_have_text("$24.00")
    page.get_by_label("Quantity").select_option("2")
    page.get_by_role("button", name="Add to cart").click()

    expect(page).to_have_url(re.compile(r"/cart/$"))
    line = page.locator(".cart-line")
    expect(line).to_contain_text("Red · L")
    expect(line.locator(".line-total")).to_contain_text("$48.00")
    snap(page, "desktop-cart")

    page.get_by_role("link", name="Proceed to checkout").click()
    page.get_by_label("Email").fill("grace@example.org")
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("Address line 1").fill("1 Compiler Lane")
    page.get_by_label("Postal code").fill("22201")
    page.get_by_label("City").fill("Arlington")
    page.get_by_label("Region").fill("VA")
    page.get_by_label("Country").select_option("US")
    page.get_by_role("button", name="Continue to review").click()
    expect(page).to_have_url(re.compile(r"/checkout/review/$"))
    page.get_by_role("button", name=re.compile(r"^Place order and pay")).click()
    expect(page).to_have_url(re.compile(r"/orders/[A-Z0-9]+/pay/$"))
    number = re.search(r"/orders/([A-Z0-9]+)/pay/", page.url).group(1)
    fill_card(page, GOOD_CARD)
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.get_by_role("heading", level=1, name="Thank you! Your order is confirmed.")).to_be_visible()

    order = Order.objects.get(number=number)
    assert order.status == "paid"
    assert [(line.sku, line.options, line.quantity) for line in order.lines.all()] == [
        (large_red.sku, {"Colour": "Red", "Size": "L"}, 2)
    ]
    large_red.refresh_from_db(), tee.refresh_from_db()
    assert (large_red.stock, tee.stock) == (7, 18)


def test_on_a_phone_the_options_fit_and_work(page: Page, live_server, tee):
    page.set_viewport_size(PHONE)
    page.goto(tee.get_absolute_url())
    option(page, "Size", "S").click()
    option(page, "Colour", "Blue").click()
    expect(page.locator("[data-variant-stock]")).to_have_text("Only 4 left in stock")
    page.get_by_role("group", name=re.compile("^Size")).scroll_into_view_if_needed()
    assert no_sideways_scroll(page)
    # Each option is a comfortable target for a thumb.
    box = page.locator('label[for="opt-size-s"]').bounding_box()
    assert box["height"] >= 44
    snap(page, "phone-chosen")
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    expect(page.locator(".cart-line")).to_contain_text("Blue · S")
    assert no_sideways_scroll(page)
    snap(page, "phone-cart")


def test_without_javascript_the_options_still_choose_and_add(browser, live_server, tee):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(tee.get_absolute_url())
        # The radio buttons are visually hidden behind their labels: clicking a label checks one.
        page.locator('label[for="opt-size-m"]').click()
        page.locator('label[for="opt-colour-red"]').click()
        page.get_by_role("button", name="Show price and stock").click()
        medium_red = variant(tee, "M", "Red")
        expect(page).to_have_url(re.compile(rf"\?variant={medium_red.pk}$"))
        expect(page.get_by_text("Only 2 left in stock")).to_be_visible()
        page.get_by_role("button", name="Add to cart").click()
        expect(page).to_have_url(re.compile(r"/cart/$"))
        expect(page.locator(".cart-line")).to_contain_text("Red · M")
    finally:
        context.close()


def test_an_automatic_promotion_shows_each_variants_own_offer_as_it_is_chosen(page: Page, live_server, tee):
    sale = Promotion.objects.create(
        name="Tee week", kind="percentage", value=Decimal("25"), requires_code=False, scope="products"
    )
    sale.products.add(tee)
    page.goto(tee.get_absolute_url())
    price = page.locator("[data-variant-price]")
    expect(price.locator(".now")).to_have_text("From $15.00")

    option(page, "Colour", "Red").click()
    option(page, "Size", "L").click()
    expect(price.locator(".now")).to_have_text("$18.00")  # 25% off the large's own 24.00
    expect(price.locator(".was")).to_have_text("was $24.00")
    option(page, "Size", "S").click()
    expect(price.locator(".now")).to_have_text("$15.00")
    expect(price.locator(".was")).to_have_text("was $20.00")
    expect(price.locator(".was")).to_have_count(1)

    option(page, "Size", "L").click()
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("dd.total")).to_have_text("$18.00")  # what the page said


def test_a_colours_picture_and_its_words_follow_the_choice_and_a_shared_link(page: Page, live_server, tee):
    from tests.factories import ProductImageFactory

    ProductImageFactory(product=tee, alt_text="The tee in red", position=0)
    blue = ProductImageFactory(product=tee, variant=variant(tee, "S", "Blue"), alt_text="The tee in blue", position=1)
    main = page.locator("[data-gallery-main]")
    page.goto(tee.get_absolute_url())
    expect(main).to_have_attribute("alt", "The tee in red")

    option(page, "Colour", "Blue").click()
    option(page, "Size", "S").click()
    expect(main).to_have_attribute("src", blue.image.url)
    expect(main).to_have_attribute("alt", "The tee in blue")  # what a screen reader says follows the picture
    expect(page.locator('.gallery-thumb[aria-current="true"]')).to_have_attribute("href", blue.image.url)

    page.goto(tee.get_absolute_url() + f"?variant={variant(tee, 'M', 'Blue').pk}")  # a shared link, another size
    expect(main).to_have_attribute("src", blue.image.url)
    expect(page.locator(".gallery-thumb[aria-current]")).to_have_count(1)
