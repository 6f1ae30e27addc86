"""The chat as a shopper meets it: the launcher on a page, a panel that opens (a full page on a
phone), a message sent, the assistant typing, then its reply with a product card; Escape closes it
and focus goes back to the launcher. The messages API is a stand-in (tests/e2e/assistant_urls.py)
that answers by the API's contract, so the page is tested apart from what the assistant understands."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from marketing.assistant.models import Conversation
from shop.cart.models import CartLine
from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def kettle():
    home = CategoryFactory(name="Home & Kitchen", slug="home")
    product = ProductFactory(name="Blue Enamel Kettle", slug="blue-kettle", category=home, price="24.50", stock=3)
    ProductImageFactory(product=product, alt_text="A blue kettle")
    return product


def no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def chat(page: Page, shot, kettle, size: str) -> None:
    page.goto("/category/home/")
    launcher = page.get_by_role("button", name="Chat with us")
    expect(launcher).to_be_visible()
    assert page.locator("#chat-panel").count() == 0  # not in the page until opened
    launcher.click()
    dialog = page.get_by_role("dialog", name="Chat with us")
    expect(dialog).to_be_visible()
    message = dialog.get_by_label("Your message")
    expect(message).to_be_focused()
    expect(dialog.get_by_text("What are you looking for today?")).to_be_visible()

    # The reply may come faster than a check could see the typing indicator: the page notes it shown.
    dialog.locator(".chat-typing").evaluate(
        """typing => new MutationObserver(() => { if (!typing.hidden) window.typingShown = true; })
            .observe(typing, {attributes: true})"""
    )
    message.fill("do you have a blue kettle?")
    message.press("Enter")
    log = dialog.get_by_role("log")
    reply = log.locator(".chat-assistant").last
    expect(reply.get_by_text("Here is what I found:")).to_be_visible()
    card = reply.locator(".chat-card")
    expect(card.get_by_role("link", name="Blue Enamel Kettle")).to_have_attribute("href", kettle.get_absolute_url())
    expect(card).to_contain_text("$24.50")
    expect(card).to_contain_text("Only 3 left")
    expect(card.locator("img")).to_have_js_property("complete", True)
    expect(reply.get_by_role("button", name="Cheaper")).to_be_visible()
    expect(dialog.locator(".chat-typing")).to_be_hidden()
    assert page.evaluate("window.typingShown === true")
    no_sideways_scroll(page)
    serious = [v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []
    shot(f"assistant-{size}-reply")

    message.fill("add it to my cart")
    message.press("Enter")
    confirm = log.locator(".chat-assistant").nth(2)
    expect(confirm).to_contain_text("Add 1 × Blue Enamel Kettle for $24.50 to your cart?")
    confirm.get_by_role("button", name="Yes").click()  # a quick reply is the next message
    expect(log.locator(".chat-shopper").last).to_have_text("You:Yes")
    added = log.locator(".chat-assistant").nth(3)
    expect(added).to_contain_text("Added 1 × Blue Enamel Kettle to your cart.")
    expect(added.get_by_role("link", name="View cart")).to_be_in_viewport()
    at_bottom = "(s => s.scrollHeight - s.scrollTop - s.clientHeight < 2)(document.querySelector('.chat-scroll'))"
    page.wait_for_function(at_bottom)  # the latest reply in view
    # The header's cart link counts what the assistant put in the cart, without reloading the page.
    expect(page.locator(".cart-link .badge")).to_have_text("1")
    expect(page.locator(".cart-link")).to_contain_text("(1 item)")
    shot(f"assistant-{size}-added")

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(launcher).to_be_focused()
    assert Conversation.objects.count() == 1
    # The cart the assistant filled is the shopper's own, as the cart page shows it.
    assert CartLine.objects.get().variant.product == kettle
    page.goto("/cart/")
    expect(page.get_by_role("main").get_by_role("link", name="Blue Enamel Kettle")).to_be_visible()


def test_a_shopper_chats_on_a_desktop(page: Page, shot, kettle):
    page.set_viewport_size(DESKTOP)
    chat(page, shot, kettle, "desktop")
    box = page.get_by_role("button", name="Chat with us").bounding_box()
    assert box["x"] > DESKTOP["width"] - 300 and box["y"] > DESKTOP["height"] - 120  # the bottom corner


def test_a_shopper_chats_on_a_phone_in_a_full_page_panel(page: Page, shot, kettle):
    page.set_viewport_size(PHONE)
    chat(page, shot, kettle, "phone")
    page.get_by_role("button", name="Chat with us").click()
    box = page.get_by_role("dialog").bounding_box()
    assert box["width"] == PHONE["width"] and box["height"] == PHONE["height"]
    # The conversation so far comes back on the next page.
    page.goto("/")
    page.get_by_role("button", name="Chat with us").click()
    expect(page.get_by_role("dialog").get_by_text("Added 1 × Blue Enamel Kettle to your cart.")).to_be_visible()
    shot("assistant-phone-next-page")


def test_a_refused_message_is_explained_kindly(page: Page, kettle):
    page.set_viewport_size(DESKTOP)
    page.goto("/")
    page.get_by_role("button", name="Chat with us").click()
    # The API's own throttle is tested in tests/marketing/assistant; here, how the chat tells it.
    page.route(
        "**/api/v1/assistant/messages/",
        lambda route: route.fulfill(status=429, json={"detail": "Request was throttled."}),
    )
    page.get_by_label("Your message").fill("hello")
    page.get_by_label("Your message").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Please wait a moment and try again.")
    page.unroute("**/api/v1/assistant/messages/")
    page.context.set_offline(True)
    page.get_by_label("Your message").fill("hello")
    page.get_by_label("Your message").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("We could not reach the shop.")
    page.context.set_offline(False)


def test_without_javascript_the_launcher_leads_to_the_chat_page(browser, live_server, kettle):
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url, viewport=PHONE)
    page = context.new_page()
    page.goto("/")
    page.get_by_role("link", name="Chat with us").click()
    page.get_by_label("Your message").fill("a blue kettle")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Here is what I found:")).to_be_visible()
    expect(page.get_by_role("link", name="Blue Enamel Kettle")).to_be_visible()
    no_sideways_scroll(page)
    context.close()
