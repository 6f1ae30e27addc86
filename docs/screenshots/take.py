"""Take the README's screenshots from a running store (run by hand; not a test).

    .venv/bin/python manage.py seed_demo          # demo data, once
    .venv/bin/python manage.py runserver           # in another shell
    .venv/bin/python docs/screenshots/take.py [http://127.0.0.1:8000] [--only points ...]

Saves 1280x800 PNGs next to this file: home, category (Dresses), product (one
on sale), cart (two products added), points (the demo shopper's points page,
logged in as the shopper), admin-home, admin-products and admin-loyalty (the
loyalty overview; logged in as the demo admin); and 390x844 ones as a phone
shows them: home-phone, menu-phone (the menu drawer open), category-phone,
filters-phone (the filter panel open), product-phone and cart-phone. The ad board: adboard-list
(cars from 2012, a misspelt word), adboard-ad (the first of them), admin-adboard (the moderators'
queue), adboard-list-phone and adboard-post-phone (the shopper posting a car). Campaigns: admin-campaign
(the draft's editor), admin-campaign-results (the A/B newsletter's results), campaign-email (its
email rendered for the demo shopper) and consent-phone (the account page's consent per channel).
Variants: variants (a dress with a colour and a size chosen), facets (women's clothes filtered
by a colour and two sizes, with the counts), admin-variants (a dress's variants in the admin) and
variants-phone (a shoe's sizes on a phone). The assistant: assistant (a guest asking for red
dresses, then to add one), assistant-phone (the demo shopper's points and orders in the full-page
chat), admin-assistant (the conversations with their intents and fallbacks) and
admin-assistant-conversation (one conversation, message by message, with what was understood).
`--only NAME` (repeatable) takes just those.
Chromium: $CHROMIUM_PATH, /usr/bin/chromium, /usr/bin/chromium-browser, else Playwright's own.
PNGs are reduced to a 256-colour palette to stay small.
"""

import argparse
import os
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, sync_playwright

OUT = Path(__file__).resolve().parent
VIEWPORT = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ADMIN = ("admin@example.com", "admin")
SHOPPER = ("shopper@example.com", "shopper")
SHOTS = (
    "home", "category", "product", "cart", "points", "shelves", "for-you",
    "admin-home", "admin-products", "admin-loyalty", "admin-shelves", "adboard-list", "adboard-ad", "admin-adboard",
    "admin-campaign", "admin-campaign-results", "campaign-email",
    "variants", "facets", "admin-variants", "assistant", "admin-assistant", "admin-assistant-conversation",
)  # fmt: skip
PHONE_SHOTS = (
    "home-phone", "menu-phone", "category-phone", "filters-phone", "product-phone", "cart-phone",
    "adboard-list-phone", "adboard-post-phone", "consent-phone", "variants-phone", "assistant-phone",
)  # fmt: skip
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH", ""), "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None  # Playwright's own browser, if `playwright install chromium` put one there


def settle(page: Page) -> None:
    """Scroll through the page so lazy images load, wait for them, and go back to the top."""
    page.wait_for_load_state("networkidle")
    height = page.evaluate("document.body.scrollHeight")
    for y in range(0, height, page.viewport_size["height"] // 2):
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(50)
    page.wait_for_load_state("networkidle")
    page.wait_for_function("[...document.images].every(img => img.complete)")
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(150)


def save(page: Page, name: str, *, scroll: bool = True) -> None:
    if scroll:
        settle(page)
    else:
        page.wait_for_load_state("networkidle")
    path = OUT / f"{name}.png"
    page.screenshot(path=path)
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)
    print(
        f"{path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}  {path.stat().st_size // 1024} KB"
    )


def choose_options(page: Page) -> None:
    """On a product with variants, choose the first option in stock of each group (size, colour)."""
    for group in page.locator("fieldset.options").all():
        group.locator("label.option-available").first.click()


def add_to_cart(page: Page, product_link) -> str:
    product_link.click()
    name = page.get_by_role("heading", level=1).inner_text()
    choose_options(page)
    page.get_by_role("button", name="Add to cart").click()
    page.get_by_role("heading", level=1, name="Your cart").wait_for()
    return name


def chat(page: Page, *messages: str) -> None:
    """Open the assistant's panel and send each message, waiting for each reply."""
    page.get_by_role("button", name="Chat with us").click()
    dialog = page.get_by_role("dialog", name="Chat with us")
    replies = dialog.locator(".chat-assistant")
    replies.first.wait_for()
    for message in messages:
        count = replies.count()
        dialog.get_by_label("Your message").fill(message)
        dialog.get_by_label("Your message").press("Enter")
        replies.nth(count).wait_for()
    dialog.locator(".chat-typing").wait_for(state="hidden")
    settle(page)


def log_in(page: Page, login_url: str, next_url: str, credentials: tuple[str, str]) -> None:
    """Log in through the form at login_url and land on next_url."""
    page.goto(f"{login_url}?next={next_url}")
    page.get_by_label("Email").fill(credentials[0])
    page.get_by_label("Password").fill(credentials[1])
    page.locator("form").get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{next_url}")


def fold_admin_sidebar(page: Page) -> None:
    """Fold the admin's app sidebar away so the content has the width."""
    toggle = page.get_by_role("button", name="Toggle navigation")
    if toggle.is_visible() and page.locator("#nav-sidebar").is_visible():
        toggle.click()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8000", help="the running store")
    parser.add_argument(
        "--only", action="append", choices=SHOTS + PHONE_SHOTS, metavar="NAME", help="take just this (repeatable)"
    )
    args = parser.parse_args()
    base = args.url.rstrip("/")
    wanted = set(args.only or SHOTS + PHONE_SHOTS)

    with sync_playwright() as pw:
        executable = chromium_path()
        browser = pw.chromium.launch(args=CHROMIUM_ARGS, **({"executable_path": executable} if executable else {}))
        context = browser.new_context(base_url=base, viewport=VIEWPORT, locale="en-US", color_scheme="light")
        page = context.new_page()
        page.set_default_timeout(15_000)

        if "home" in wanted:
            page.goto("/")
            save(page, "home")

        if "category" in wanted:
            page.goto("/category/dresses/")
            save(page, "category")

        if wanted & {"product", "cart"}:
            # The best-rated product on sale and in stock, reached the way a shopper would.
            page.goto("/products/?on_sale=true&in_stock=true&ordering=-rating")
            sale_link = page.locator("section.results .card-link").first
            sale_link.click()
            page.get_by_text("Save ", exact=False).first.wait_for()
            if "product" in wanted:
                save(page, "product")

        if "cart" in wanted:
            # Two products in the cart: this one (two of it) and another from the first list.
            choose_options(page)
            if page.locator("#id_quantity option[value='2']").count():
                page.get_by_label("Quantity").select_option("2")
            page.get_by_role("button", name="Add to cart").click()
            page.get_by_role("heading", level=1, name="Your cart").wait_for()
            page.goto("/category/dresses/")
            add_to_cart(page, page.locator("section.results .card-link").first)
            save(page, "cart")

        if "variants" in wanted:
            # A dress in sizes and colours: a colour and a size chosen, one size sold out in it.
            page.goto("/category/dresses/?ordering=-rating&in_stock=true")
            page.locator("section.results .card-link").first.click()
            choose_options(page)
            page.locator("fieldset.options").first.scroll_into_view_if_needed()
            save(page, "variants", scroll=False)

        if "assistant" in wanted:
            # A guest on the dresses' page asks the assistant, then picks one to add.
            guest = browser.new_context(base_url=base, viewport=VIEWPORT, locale="en-US", color_scheme="light")
            page = guest.new_page()
            page.goto("/category/dresses/")
            chat(page, "red dresses under 100", "add the first one")
            save(page, "assistant", scroll=False)

        if "facets" in wanted:
            page.goto("/category/women/?attr=colour:black&attr=size:m&attr=size:l")
            save(page, "facets")

        if wanted & {"shelves", "for-you"}:
            # A fresh visit: a best-seller's page and its shelves, then the home page's shelves for it.
            visitor = browser.new_context(base_url=base, viewport=VIEWPORT, locale="en-US", color_scheme="light")
            page = visitor.new_page()
            page.goto("/category/dresses/?ordering=-rating")
            page.locator("section.results .card-link").first.click()
            shelf = page.locator("section.shelf").first
            shelf.wait_for()
            settle(page)
            shelf.scroll_into_view_if_needed()
            page.evaluate("window.scrollBy(0, -80)")
            if "shelves" in wanted:
                save(page, "shelves", scroll=False)
            page.goto("/")
            mine = page.locator("section.shelf").first
            mine.wait_for()
            settle(page)
            mine.scroll_into_view_if_needed()
            page.evaluate("window.scrollBy(0, -80)")
            if "for-you" in wanted:
                save(page, "for-you", scroll=False)

        if "points" in wanted:
            # The demo shopper's points: summary, tiers and the start of the history.
            shopper = browser.new_context(base_url=base, viewport=VIEWPORT, locale="en-US", color_scheme="light")
            page = shopper.new_page()
            log_in(page, "/account/login/", "/account/points/", SHOPPER)
            page.get_by_role("heading", level=2, name="History").wait_for()
            save(page, "points")

        if wanted & {"adboard-list", "adboard-ad"}:
            page.goto("/ads/c/cars/?q=volkswagn&f_year_min=2012")
            if "adboard-list" in wanted:
                save(page, "adboard-list")
            page.goto("/ads/c/cars/?f_year_min=2012&photos=1")
            page.locator(".board-card .card-link").first.click()
            page.get_by_role("heading", level=1).wait_for()
            if "adboard-ad" in wanted:
                save(page, "adboard-ad")

        if {name for name in wanted if name.startswith("admin-") or name == "campaign-email"}:
            admin = browser.new_context(base_url=base, viewport=VIEWPORT, locale="en-US", color_scheme="light")
            page = admin.new_page()
            log_in(page, "/admin/login/", "/admin/", ADMIN)
            if "admin-home" in wanted:
                save(page, "admin-home")
            page.goto("/admin/catalog/product/")
            if "admin-products" in wanted:
                fold_admin_sidebar(page)
                save(page, "admin-products")
            if "admin-variants" in wanted:
                # A dress's page: its variants inline, with their options and stock.
                page.goto("/admin/catalog/product/?q=wrap+dress")
                page.locator("#result_list tbody th a").first.click()
                fold_admin_sidebar(page)
                page.locator("#variants-group").evaluate("group => group.scrollIntoView({block: 'start'})")
                save(page, "admin-variants", scroll=False)
            if "admin-loyalty" in wanted:
                # What the program owes and how points moved, month by month.
                page.goto("/admin/loyalty/account/overview/")
                page.get_by_role("heading", level=2, name="Points per month").wait_for()
                fold_admin_sidebar(page)
                save(page, "admin-loyalty")
            if "admin-shelves" in wanted:
                # Each shelf shown or hidden, with its last 30 days.
                page.goto("/admin/recommendations/shelfsetting/")
                fold_admin_sidebar(page)
                save(page, "admin-shelves")
            if "admin-adboard" in wanted:
                # What waits for a moderator: new, flagged and reported ads.
                page.goto("/admin/adboard/ad/?queue=decide")
                fold_admin_sidebar(page)
                save(page, "admin-adboard")
            if "admin-assistant" in wanted:
                # The conversations, latest first: channel, intents, what was not understood, hand-overs.
                page.goto("/admin/assistant/conversation/")
                fold_admin_sidebar(page)
                save(page, "admin-assistant")
            if "admin-assistant-conversation" in wanted:
                # A conversation with a fallback: each message with its intent and confidence.
                page.goto("/admin/assistant/conversation/?fallbacks=yes")
                fold_admin_sidebar(page)
                page.locator("#result_list tbody th a").first.click()
                save(page, "admin-assistant-conversation")
            if "admin-campaign" in wanted:
                # The draft campaign: its segment, contents with placeholders, and the send buttons.
                page.goto("/admin/campaigns/campaign/?q=Autumn")
                page.evaluate("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
                page.get_by_role("link", name="Autumn preview (draft)").click()
                page.locator("#variants-group").scroll_into_view_if_needed()
                save(page, "admin-campaign", scroll=False)
            if "admin-campaign-results" in wanted or "campaign-email" in wanted:
                # The newsletter's A/B test: figures per content, clicks per link, the verdict.
                page.goto("/admin/campaigns/campaign/?ab_test__exact=subject")
                page.evaluate("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
                page.locator("#result_list tbody th a").first.click()
                change = page.url
                if "admin-campaign-results" in wanted:
                    heading = page.locator("h2", has_text="Results")
                    page.evaluate("y => window.scrollTo(0, y - 10)", heading.bounding_box()["y"])
                    save(page, "admin-campaign-results", scroll=False)
                if "campaign-email" in wanted:
                    # The email as the demo shopper gets it (the preview renders it for a chosen customer).
                    page.goto(change.rstrip("/").rsplit("/change", 1)[0] + "/preview/a/?customer=2")
                    save(page, "campaign-email")

        if wanted & set(PHONE_SHOTS):
            phone = browser.new_context(
                base_url=base, viewport=PHONE, locale="en-US", color_scheme="light", is_mobile=True, has_touch=True
            )
            page = phone.new_page()
            page.set_default_timeout(15_000)
            if "home-phone" in wanted:
                page.goto("/")
                save(page, "home-phone")
            if "menu-phone" in wanted:
                page.goto("/")
                page.get_by_label("Menu").click()
                page.locator(".drawer-list summary", has_text="Clothing").click()
                save(page, "menu-phone", scroll=False)
            if "category-phone" in wanted or "filters-phone" in wanted:
                page.goto("/category/dresses/")
                if "category-phone" in wanted:
                    save(page, "category-phone")
                if "filters-phone" in wanted:
                    page.get_by_role("button", name="Filters").click()
                    save(page, "filters-phone", scroll=False)
            if wanted & {"product-phone", "cart-phone"}:
                page.goto("/products/?on_sale=true&in_stock=true&ordering=-rating")
                page.locator("section.results .card-link").first.click()
                page.get_by_role("button", name="Add to cart").wait_for()
                if "product-phone" in wanted:
                    save(page, "product-phone")
                choose_options(page)
                page.get_by_role("button", name="Add to cart").click()
                page.get_by_role("heading", level=1, name="Your cart").wait_for()
                if "cart-phone" in wanted:
                    save(page, "cart-phone")
            if "variants-phone" in wanted:
                page.goto("/category/womens-shoes/?ordering=-rating&in_stock=true")
                page.locator("section.results .card-link").first.click()
                choose_options(page)
                page.locator("fieldset.options").first.scroll_into_view_if_needed()
                save(page, "variants-phone", scroll=False)
            if "adboard-list-phone" in wanted:
                page.goto("/ads/")
                save(page, "adboard-list-phone")
            if "adboard-post-phone" in wanted:
                log_in(page, "/account/login/", "/ads/post/?category=cars", SHOPPER)
                page.get_by_label("Title").wait_for()
                save(page, "adboard-post-phone", scroll=False)
            if "assistant-phone" in wanted:
                # The demo shopper asks for their points and their orders: the chat takes the whole screen.
                page.goto("/account/")
                if "/login/" in page.url:
                    log_in(page, "/account/login/", "/account/", SHOPPER)
                chat(page, "how many points do I have?", "where is my order?")
                save(page, "assistant-phone", scroll=False)
            if "consent-phone" in wanted:
                # One box per channel on the account page, never ticked for the customer.
                page.goto("/account/")
                if "/login/" in page.url:
                    log_in(page, "/account/login/", "/account/", SHOPPER)
                page.get_by_text("Offers and news", exact=True).scroll_into_view_if_needed()
                save(page, "consent-phone", scroll=False)

        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
