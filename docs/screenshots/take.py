"""Take the README's screenshots from a running store (run by hand; not a test).

    .venv/bin/python manage.py seed_demo          # demo data, once
    .venv/bin/python manage.py runserver           # in another shell
    .venv/bin/python docs/screenshots/take.py [http://127.0.0.1:8000]

Saves 1280x800 PNGs next to this file: home, category (Dresses), product (one
on sale), cart (two products added) and admin-products (logged in as the demo
admin). Chromium: $CHROMIUM_PATH, /usr/bin/chromium, /usr/bin/chromium-browser,
else Playwright's own. PNGs are reduced to a 256-colour palette to stay small.
"""

import argparse
import os
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, sync_playwright

OUT = Path(__file__).resolve().parent
VIEWPORT = {"width": 1280, "height": 800}
ADMIN = ("admin@example.com", "admin")
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
    for y in range(0, height, VIEWPORT["height"] // 2):
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(50)
    page.wait_for_load_state("networkidle")
    page.wait_for_function("[...document.images].every(img => img.complete)")
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(150)


def save(page: Page, name: str) -> None:
    settle(page)
    path = OUT / f"{name}.png"
    page.screenshot(path=path)
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)
    print(
        f"{path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}  {path.stat().st_size // 1024} KB"
    )


def add_to_cart(page: Page, product_link) -> str:
    product_link.click()
    name = page.get_by_role("heading", level=1).inner_text()
    page.get_by_role("button", name="Add to cart").click()
    page.get_by_role("heading", level=1, name="Your cart").wait_for()
    return name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8000", help="the running store")
    base = parser.parse_args().url.rstrip("/")

    with sync_playwright() as pw:
        executable = chromium_path()
        browser = pw.chromium.launch(args=CHROMIUM_ARGS, **({"executable_path": executable} if executable else {}))
        context = browser.new_context(base_url=base, viewport=VIEWPORT, locale="en-US", color_scheme="light")
        page = context.new_page()
        page.set_default_timeout(15_000)

        page.goto("/")
        save(page, "home")

        page.goto("/category/dresses/")
        save(page, "category")

        # The best-rated product on sale and in stock, reached the way a shopper would.
        page.goto("/products/?on_sale=true&in_stock=true&ordering=-rating")
        sale_link = page.locator("section.results .card-link").first
        sale_link.click()
        page.get_by_text("Save ", exact=False).first.wait_for()
        save(page, "product")

        # Two products in the cart: this one (two of it) and another from the first list.
        page.get_by_label("Quantity").select_option("2")
        page.get_by_role("button", name="Add to cart").click()
        page.get_by_role("heading", level=1, name="Your cart").wait_for()
        page.goto("/category/dresses/")
        add_to_cart(page, page.locator("section.results .card-link").first)
        save(page, "cart")

        admin = browser.new_context(base_url=base, viewport=VIEWPORT, locale="en-US", color_scheme="light")
        page = admin.new_page()
        page.goto("/admin/login/?next=/admin/catalog/product/")
        page.get_by_label("Email").fill(ADMIN[0])
        page.get_by_label("Password").fill(ADMIN[1])
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/admin/catalog/product/")
        # Fold the admin's app sidebar away so the product table has the width.
        toggle = page.get_by_role("button", name="Toggle navigation")
        if toggle.is_visible() and page.locator("#nav-sidebar").is_visible():
            toggle.click()
        save(page, "admin-products")

        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
