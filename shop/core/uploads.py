"""Pictures sent by customers (review photos, ads' photos): checked by what they contain, not by
their name, then re-drawn so nothing but pixels is kept.

A file is opened by Pillow and must be a JPEG, PNG or WebP picture of sensible size; a
decompression bomb (a small file that expands to billions of pixels) is refused before it is
decoded. The picture is turned upright by its EXIF orientation, shrunk to fit `max_side`,
and saved again as JPEG: the camera's metadata (GPS position, device, date) is not copied.
A thumbnail is made the same way. Callers store the two files; the original is never kept.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
MAX_PIXELS = 40_000_000  # a 40-megapixel photo; above it Pillow is not asked to decode
MIN_SIDE = 200


@dataclass(frozen=True)
class CleanImage:
    image: ContentFile
    thumbnail: ContentFile
    width: int
    height: int


def max_bytes() -> int:
    return settings.SHOP_UPLOAD_MAX_BYTES


def _redraw(picture: Image.Image, side: int, quality: int) -> tuple[bytes, int, int]:
    copy = picture.copy()
    copy.thumbnail((side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # Saved without exif=, icc_profile= or any info: only the pixels travel.
    copy.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue(), copy.width, copy.height


def clean_image(upload, *, max_side: int = 1600, thumb_side: int = 400) -> CleanImage:
    """The upload as a clean JPEG and its thumbnail, or ValidationError with what to do."""
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes():
        raise ValidationError(
            _("%(name)s is %(size)s; pictures can be up to %(max)s.")
            % {
                "name": getattr(upload, "name", _("This file")),
                "size": filesizeformat(size),
                "max": filesizeformat(max_bytes()),
            },
            code="too_big",
        )
    try:
        upload.seek(0)
        data = upload.read(max_bytes() + 1)
    except (AttributeError, OSError):
        raise ValidationError(_("The file could not be read; try sending it again."), code="unreadable") from None
    if len(data) > max_bytes():
        raise ValidationError(
            _("Pictures can be up to %(max)s.") % {"max": filesizeformat(max_bytes())}, code="too_big"
        )
    not_a_picture = ValidationError(
        _("This file is not a picture we can use: send a JPEG, PNG or WebP photo."), code="not_image"
    )
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise not_a_picture
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise ValidationError(
                    _("This picture is %(w)d × %(h)d pixels; send one of at most 40 megapixels.")
                    % {"w": width, "h": height},
                    code="too_many_pixels",
                )
            probe.verify()  # a truncated or forged file fails here, before decoding
        with Image.open(io.BytesIO(data)) as picture:
            picture = ImageOps.exif_transpose(picture)
            if min(picture.size) < MIN_SIDE:
                raise ValidationError(
                    _("This picture is too small (%(w)d × %(h)d); send one at least %(min)d pixels on each side.")
                    % {"w": picture.width, "h": picture.height, "min": MIN_SIDE},
                    code="too_small",
                )
            if picture.mode in ("RGBA", "LA", "P"):
                picture = picture.convert("RGBA")
                background = Image.new("RGB", picture.size, (255, 255, 255))
                background.paste(picture, mask=picture.getchannel("A"))
                picture = background
            elif picture.mode != "RGB":
                picture = picture.convert("RGB")
            full, w, h = _redraw(picture, max_side, 85)
            thumb, _tw, _th = _redraw(picture, thumb_side, 80)
    except ValidationError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        raise not_a_picture from None
    name = uuid.uuid4().hex
    return CleanImage(ContentFile(full, name=f"{name}.jpg"), ContentFile(thumb, name=f"{name}-thumb.jpg"), w, h)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PicturesField(forms.FileField):
    """Up to `max_count` pictures in one <input type=file multiple>; cleaned to a list of CleanImage."""

    widget = MultipleFileInput

    def __init__(self, *, max_count: int, **kwargs):
        self.max_count = max_count
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("accept", "image/jpeg,image/png,image/webp")

    def clean(self, data, initial=None):
        files = [f for f in (data if isinstance(data, (list, tuple)) else [data]) if f]
        if not files:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        if len(files) > self.max_count:
            raise ValidationError(
                ngettext("Send at most %(n)d picture.", "Send at most %(n)d pictures.", self.max_count)
                % {"n": self.max_count},
                code="too_many",
            )
        cleaned, errors = [], []
        for upload in files:
            try:
                cleaned.append(clean_image(upload))
            except ValidationError as error:
                errors.extend(error.messages)
        if errors:
            raise ValidationError(errors)
        return cleaned


def files_delete_on_commit(files) -> None:
    """Remove stored pictures once the transaction that dropped their rows has committed.

    `files` are FieldFiles (photo.image, photo.thumbnail). Removed after commit, never inside the
    transaction: a rollback must not leave rows pointing at files that are gone. A file already
    missing is no error.
    """
    names = [(f.storage, f.name) for f in files if f and f.name]
    if not names:
        return

    def remove():
        for storage, name in names:
            storage.delete(name)

    transaction.on_commit(remove)
