"""Ad photos drawn with Pillow for the demo board (as shop/catalog/imagegen.py draws the products): a simple
picture of the thing for each category, in the ad's own colours, seen from a few angles. Nothing is
downloaded; each picture takes a few milliseconds."""

from __future__ import annotations

import colorsys
import io

from PIL import Image, ImageDraw

W, H = 640, 480
THUMB = (400, 300)


def _rgb(hue: float, light: float, sat: float) -> tuple[int, int, int]:
    return tuple(int(c * 255) for c in colorsys.hls_to_rgb(hue % 1, light, sat))


def _car(d, c, dark, x, y, s):
    d.rounded_rectangle([x - 190 * s, y - 40 * s, x + 190 * s, y + 40 * s], radius=int(24 * s), fill=c)
    d.polygon(
        [(x - 110 * s, y - 40 * s), (x - 60 * s, y - 100 * s), (x + 80 * s, y - 100 * s), (x + 130 * s, y - 40 * s)],
        fill=c,
    )
    d.polygon(
        [(x - 90 * s, y - 44 * s), (x - 50 * s, y - 90 * s), (x + 10 * s, y - 90 * s), (x + 10 * s, y - 44 * s)],
        fill=(220, 235, 245),
    )
    d.polygon(
        [(x + 22 * s, y - 44 * s), (x + 22 * s, y - 90 * s), (x + 72 * s, y - 90 * s), (x + 112 * s, y - 44 * s)],
        fill=(220, 235, 245),
    )
    for wx in (x - 110 * s, x + 110 * s):
        d.ellipse([wx - 42 * s, y + 5 * s, wx + 42 * s, y + 89 * s], fill=(40, 40, 45))
        d.ellipse([wx - 18 * s, y + 29 * s, wx + 18 * s, y + 65 * s], fill=(190, 190, 195))  # fmt: skip


def _bike(d, c, dark, x, y, s):
    r = 70 * s
    for wx in (x - 100 * s, x + 100 * s):
        d.ellipse([wx - r, y - r + 40 * s, wx + r, y + r + 40 * s], outline=(45, 45, 50), width=int(9 * s))
    pts = [(x - 100 * s, y + 40 * s), (x - 20 * s, y - 50 * s), (x + 70 * s, y - 50 * s), (x + 100 * s, y + 40 * s)]
    d.line(pts, fill=c, width=int(12 * s))
    d.line([(x - 20 * s, y - 50 * s), (x, y + 40 * s), (x - 100 * s, y + 40 * s)], fill=c, width=int(12 * s))
    d.line([(x + 70 * s, y - 50 * s), (x + 60 * s, y - 85 * s), (x + 95 * s, y - 90 * s)], fill=dark, width=int(8 * s))
    d.rectangle([x - 40 * s, y - 70 * s, x + 0 * s, y - 58 * s], fill=dark)


def _flat(d, c, dark, x, y, s):
    d.rectangle([x - 150 * s, y - 150 * s, x + 150 * s, y + 130 * s], fill=c)
    for row in range(4):
        for col in range(4):
            wx, wy = x - 120 * s + col * 70 * s, y - 125 * s + row * 62 * s
            d.rectangle(
                [wx, wy, wx + 40 * s, wy + 40 * s], fill=(250, 240, 190) if (row + col) % 3 else (200, 220, 235)
            )
    d.rectangle([x - 25 * s, y + 70 * s, x + 25 * s, y + 130 * s], fill=dark)


def _sofa(d, c, dark, x, y, s):
    d.rounded_rectangle([x - 170 * s, y - 80 * s, x + 170 * s, y + 20 * s], radius=int(30 * s), fill=c)
    d.rounded_rectangle([x - 200 * s, y - 20 * s, x + 200 * s, y + 60 * s], radius=int(24 * s), fill=dark)
    d.rounded_rectangle([x - 150 * s, y - 10 * s, x + 150 * s, y + 30 * s], radius=int(14 * s), fill=c)
    for lx in (x - 170 * s, x + 160 * s):
        d.rectangle([lx, y + 60 * s, lx + 10 * s, y + 90 * s], fill=(70, 50, 40))


def _box(d, c, dark, x, y, s):  # a washing machine, a fridge...
    d.rounded_rectangle([x - 110 * s, y - 150 * s, x + 110 * s, y + 140 * s], radius=int(14 * s), fill=c)
    d.rectangle([x - 110 * s, y - 150 * s, x + 110 * s, y - 105 * s], fill=dark)
    d.ellipse([x - 75 * s, y - 70 * s, x + 75 * s, y + 80 * s], fill=(210, 225, 235), outline=dark, width=int(8 * s))


def _plant(d, c, dark, x, y, s):
    pot = [(x - 70 * s, y + 40 * s), (x + 70 * s, y + 40 * s), (x + 50 * s, y + 140 * s), (x - 50 * s, y + 140 * s)]
    d.polygon(pot, fill=(170, 95, 60))
    for dx, dy, r in ((-60, -40, 70), (50, -50, 75), (0, -120, 80), (-10, -20, 60)):
        d.ellipse([x + (dx - r) * s, y + (dy - r) * s, x + (dx + r) * s, y + (dy + r) * s], fill=c)


def _phone(d, c, dark, x, y, s):
    d.rounded_rectangle([x - 80 * s, y - 160 * s, x + 80 * s, y + 160 * s], radius=int(26 * s), fill=dark)
    d.rounded_rectangle([x - 68 * s, y - 145 * s, x + 68 * s, y + 145 * s], radius=int(18 * s), fill=c)
    d.ellipse([x - 8 * s, y - 135 * s, x + 8 * s, y - 119 * s], fill=dark)


def _laptop(d, c, dark, x, y, s):
    d.rounded_rectangle([x - 150 * s, y - 130 * s, x + 150 * s, y + 60 * s], radius=int(10 * s), fill=dark)
    d.rectangle([x - 135 * s, y - 117 * s, x + 135 * s, y + 47 * s], fill=c)
    base = [(x - 190 * s, y + 95 * s), (x + 190 * s, y + 95 * s), (x + 150 * s, y + 60 * s), (x - 150 * s, y + 60 * s)]
    d.polygon(base, fill=(150, 150, 158))


def _screen(d, c, dark, x, y, s):
    d.rectangle([x - 190 * s, y - 130 * s, x + 190 * s, y + 90 * s], fill=dark)
    d.rectangle([x - 178 * s, y - 118 * s, x + 178 * s, y + 78 * s], fill=c)
    d.rectangle([x - 15 * s, y + 90 * s, x + 15 * s, y + 120 * s], fill=dark)
    d.rectangle([x - 80 * s, y + 120 * s, x + 80 * s, y + 132 * s], fill=dark)


def _shirt(d, c, dark, x, y, s):
    d.polygon(
        [(x - 60 * s, y - 140 * s), (x - 150 * s, y - 90 * s), (x - 115 * s, y - 20 * s), (x - 85 * s, y - 40 * s),
         (x - 85 * s, y + 140 * s), (x + 85 * s, y + 140 * s), (x + 85 * s, y - 40 * s), (x + 115 * s, y - 20 * s),
         (x + 150 * s, y - 90 * s), (x + 60 * s, y - 140 * s), (x, y - 110 * s)],
        fill=c,
    )  # fmt: skip
    d.line([(x, y - 110 * s), (x, y + 140 * s)], fill=dark, width=int(3 * s))


def _shoe(d, c, dark, x, y, s):
    d.polygon([(x - 160 * s, y - 10 * s), (x - 150 * s, y - 90 * s), (x - 70 * s, y - 90 * s), (x - 30 * s, y - 40 * s),
               (x + 130 * s, y - 10 * s), (x + 170 * s, y + 30 * s), (x - 160 * s, y + 30 * s)], fill=c)  # fmt: skip
    d.rectangle([x - 165 * s, y + 30 * s, x + 172 * s, y + 55 * s], fill=(240, 240, 240))
    for i in range(4):
        d.line([(x - 120 * s + i * 22 * s, y - 70 * s), (x - 100 * s + i * 22 * s, y - 50 * s)], fill=dark, width=4)


def _ball(d, c, dark, x, y, s):
    d.ellipse([x - 130 * s, y - 130 * s, x + 130 * s, y + 130 * s], fill=c, outline=dark, width=int(6 * s))
    d.arc([x - 130 * s, y - 60 * s, x + 130 * s, y + 60 * s], 0, 360, fill=dark, width=int(6 * s))
    d.line([(x, y - 130 * s), (x, y + 130 * s)], fill=dark, width=int(6 * s))


def _books(d, c, dark, x, y, s):
    colours = [c, dark, (230, 200, 120), (120, 150, 190)]
    for i in range(5):
        top = y + 110 * s - i * 50 * s
        shift = (i % 2) * 20 * s - 10 * s
        d.rectangle([x - 140 * s + shift, top - 42 * s, x + 140 * s + shift, top], fill=colours[i % 4])
        d.rectangle([x - 130 * s + shift, top - 30 * s, x - 100 * s + shift, top - 12 * s], fill=(245, 245, 240))


def _blocks(d, c, dark, x, y, s):
    colours = [c, dark, (235, 190, 70), (90, 160, 120)]
    for i, (bx, by) in enumerate(((-100, 40), (0, 40), (100, 40), (-50, -60), (50, -60), (0, -160))):
        d.rectangle([x + (bx - 48) * s, y + (by - 48) * s, x + (bx + 48) * s, y + (by + 48) * s], fill=colours[i % 4])


DRAWINGS = {
    "cars": _car,
    "bicycles": _bike,
    "flats-to-rent": _flat,
    "furniture": _sofa,
    "appliances": _box,
    "garden": _plant,
    "phones": _phone,
    "computers": _laptop,
    "audio-tv": _screen,
    "clothing": _shirt,
    "shoes": _shoe,
    "sports": _ball,
    "books-music": _books,
    "toys-games": _blocks,
}


def render(*, kind: str, hue: float, variant: int = 0) -> tuple[bytes, bytes]:
    """A photo of the thing (JPEG, 640 × 480) and its thumbnail (400 × 300): one background from light to
    a floor, the thing in the ad's colour, a different angle and scale for each of an ad's photos."""
    back = _rgb(hue + 0.5, 0.93, 0.25)
    floor = _rgb(hue + 0.5, 0.80, 0.15)
    image = Image.new("RGB", (W, H), back)
    d = ImageDraw.Draw(image)
    d.rectangle([0, int(H * 0.72), W, H], fill=floor)
    colour, dark = _rgb(hue, 0.52, 0.55), _rgb(hue, 0.28, 0.45)
    scale = (1.0, 0.8, 1.15, 0.9)[variant % 4]
    x = W / 2 + (0, -70, 40, 80)[variant % 4]
    y = H / 2 + (0, 20, -10, 30)[variant % 4]
    d.ellipse([x - 200 * scale, y + 120 * scale, x + 200 * scale, y + 160 * scale], fill=_rgb(hue + 0.5, 0.7, 0.1))
    DRAWINGS.get(kind, _blocks)(d, colour, dark, x, y, scale)
    if variant % 4 == 1:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    photo, thumb = io.BytesIO(), io.BytesIO()
    image.save(photo, "JPEG", quality=78)
    image.resize(THUMB, Image.Resampling.BILINEAR).save(thumb, "JPEG", quality=75)
    return photo.getvalue(), thumb.getvalue()
