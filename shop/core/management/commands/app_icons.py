"""Draw the installable storefront's icons again (after a change of the brand's colour)."""

from django.core.management.base import BaseCommand

from shop.core.pwa import ICONS, ICONS_DIR, draw_icon


class Command(BaseCommand):
    help = "Draw the app icons of the installable storefront into shop/core/static/shop/icons/."

    def handle(self, *args, **options):
        ICONS_DIR.mkdir(parents=True, exist_ok=True)
        for name, size, purpose in ICONS:
            draw_icon(size, purpose).save(ICONS_DIR / name, optimize=True)
            self.stdout.write(f"{ICONS_DIR / name}")
