"""Product pictures drawn with Pillow for the demo store: nothing is downloaded."""

import colorsys
import io
import textwrap

from PIL import Image, ImageDraw, ImageFont

SIZE = 600


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow older than 10.1
        return ImageFont.load_default()


def render(*, title: str, subtitle: str, hue: float, variant: int = 0) -> bytes:
    """A soft two-tone card with a shape and the product's name; JPEG bytes."""
    light = tuple(int(c * 255) for c in colorsys.hls_to_rgb(hue, 0.90, 0.55))
    mid = tuple(int(c * 255) for c in colorsys.hls_to_rgb(hue, 0.62, 0.45))
    dark = tuple(int(c * 255) for c in colorsys.hls_to_rgb(hue, 0.28, 0.40))
    image = Image.new("RGB", (SIZE, SIZE), light)
    draw = ImageDraw.Draw(image)
    # A gentle vertical gradient.
    for y in range(SIZE):
        t = y / SIZE
        draw.line([(0, y), (SIZE, y)], fill=tuple(int(light[i] * (1 - t * 0.25) + mid[i] * t * 0.25) for i in range(3)))
    c, r = SIZE // 2, 150
    shape = variant % 3
    if shape == 0:
        draw.ellipse([c - r, c - r - 60, c + r, c + r - 60], fill=mid)
    elif shape == 1:
        draw.rounded_rectangle([c - r, c - r - 60, c + r, c + r - 60], radius=40, fill=mid)
    else:
        draw.polygon([(c, c - r - 70), (c + r, c + r - 60), (c - r, c + r - 60)], fill=mid)
    title_font, sub_font = _font(38), _font(26)
    lines = textwrap.wrap(title, width=22)[:3]
    y = 430
    for line in lines:
        width = draw.textlength(line, font=title_font)
        draw.text(((SIZE - width) / 2, y), line, font=title_font, fill=dark)
        y += 46
    width = draw.textlength(subtitle, font=sub_font)
    draw.text(((SIZE - width) / 2, 60), subtitle.upper(), font=sub_font, fill=dark)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82, optimize=True)
    return out.getvalue()
