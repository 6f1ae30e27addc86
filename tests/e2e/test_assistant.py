"""The chat as a shopper meets it: the launcher on a page, a panel that opens (a full page on a
phone), a message sent, the assistant typing, then its reply with a product card; Escape closes it
and focus goes back to the launcher. The messages API is a stand-in (tests/e2e/assistant_urls.py)
that answers by the API's contract, so the page is tested apart from what the assistant understands."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from marketing.assistant.models import Conversation
from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory
from tests.marketing.assistant import fakes

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def api(settings, monkeypatch):
    settings.ROOT_URLCONF = "tests.e2e.assistant_urls"
    fakes.install(monkeypatch)  # the chat page without JavaScript calls the dialogue itself


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
    launcher.click()
    dialog = page.get_by_role("dialog", name="Chat with us")
    expect(dialog).to_be_visible()
    message = dialog.get_by_label("Your message")
    expect(message).to_be_focused()
    expect(dialog.get_by_text("What are you looking for today?")).to_be_visible()

    message.fill("a blue kettle")
    message.press("Enter")
    expect(dialog.locator(".chat-typing")).to_be_visible()
    reply = dialog.get_by_role("log").locator(".chat-assistant").last
    expect(reply.get_by_text("Here is what I found for “a blue kettle”.")).to_be_visible()
    card = reply.locator(".chat-card")
    expect(card.get_by_role("link", name="Blue Enamel Kettle")).to_have_attribute("href", kettle.get_absolute_url())
    expect(card).to_contain_text("$24.50")
    expect(card).to_contain_text("In stock")
    expect(card.locator("img")).to_have_js_property("complete", True)
    expect(reply.get_by_role("button", name="Cheaper")).to_be_visible()
    expect(dialog.locator(".chat-typing")).to_be_hidden()
    no_sideways_scroll(page)
    serious = [v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []
    shot(f"assistant-{size}-reply")

    reply.get_by_role("button", name="Cheaper").click()  # a quick reply is the next message
    expect(dialog.get_by_role("log").locator(".chat-shopper").last).to_have_text("You:Cheaper")
    expect(dialog.get_by_role("log").locator(".chat-assistant")).to_have_count(3)

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(launcher).to_be_focused()
    assert Conversation.objects.count() == 1


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
    expect(page.get_by_role("dialog").get_by_text("Here is what I found for “Cheaper”.")).to_be_visible()
    shot("assistant-phone-next-page")


def test_a_refused_message_is_explained_kindly(page: Page, kettle):
    page.set_viewport_size(DESKTOP)
    page.goto("/")
    page.get_by_role("button", name="Chat with us").click()
    page.get_by_label("Your message").fill("too fast")
    page.get_by_label("Your message").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Please wait a moment and try again.")
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
    expect(page.get_by_role("link", name="Blue Enamel Kettle")).to_be_visible()
    no_sideways_scroll(page)
    context.close()
