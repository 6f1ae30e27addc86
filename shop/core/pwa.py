"""The installable storefront: the web app manifest, the service worker and the app's icons.

The service worker is served from the site's root so that its scope is the whole store; it
shows the notifications the store sends and opens what they link to (templates/pwa/sw.js).
Who sends them is not the shop's business: the marketing apps subscribe browsers through it.
"""

from pathlib import Path

# store.css's --brand and --bg: the app's title bar and its splash screen.
THEME_COLOR = "#2f5d50"
BACKGROUND_COLOR = "#f7f7f5"
ICONS_DIR = Path(__file__).resolve().parent / "static" / "shop" / "icons"
# (file, size, purpose): "any" has rounded corners like the favicon; "maskable" fills the square
# and keeps the drawing inside the middle circle of 80%, which every launcher's mask leaves visible.
ICONS = [
    ("icon-192.png", 192, "any"),
    ("icon-512.png", 512, "any"),
    ("icon-maskable-512.png", 512, "maskable"),
    ("badge-96.png", 96, "badge"),  # the small monochrome picture Android shows in the status bar
]


def draw_icon(size: int, purpose: str):
    """The store's icon: a white shopping bag on the brand's green (Pillow, drawn 4x and reduced)."""
    from PIL import Image, ImageDraw

    scale = 4
    side = size * scale
    image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    white = (255, 255, 255, 255)
    if purpose == "badge":
        drawing, colour = 1.0, white  # white on transparent: the system colours it
    else:
        drawing, colour = (0.9 if purpose == "maskable" else 1.0), _rgb(THEME_COLOR)
        if purpose == "maskable":
            draw.rectangle((0, 0, side, side), fill=colour)
        else:
            draw.rounded_rectangle((0, 0, side - 1, side - 1), radius=side * 7 // 32, fill=colour)

    def at(x: float, y: float) -> tuple[float, float]:
        # Coordinates on a 0..1 square, shrunk about the centre for the maskable icon.
        return (side * (0.5 + (x - 0.5) * drawing), side * (0.5 + (y - 0.5) * drawing))

    stroke = round(side * 0.055 * drawing)
    left, top = at(0.38, 0.2)
    right, bottom = at(0.62, 0.5)
    # Pillow draws an arc's width inside its box: the handle's sides are centred on that width.
    draw.arc((left, top, right, bottom), start=180, end=360, fill=white, width=stroke)
    middle = (top + bottom) / 2
    for x in (left + stroke / 2, right - stroke / 2):
        draw.line((x, middle, x, at(0, 0.42)[1]), fill=white, width=stroke)
    draw.rounded_rectangle((*at(0.25, 0.38), *at(0.75, 0.8)), radius=side * 0.06 * drawing, fill=white)
    if purpose != "badge":
        # The bag's two handle holes, in the background's colour.
        for x in (0.38, 0.62):
            cx, cy = at(x, 0.47)
            r = side * 0.028 * drawing
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def _rgb(colour: str) -> tuple[int, int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16), 255)
