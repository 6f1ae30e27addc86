from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def options_text(options) -> str:
    """An order line's options as bought, {"Size": "42", "Colour": "Blue"} -> "Colour: Blue · Size: 42";
    "" for a line without options (most lines: shown exactly as before variants).

    By attribute name, as the snapshot is written (Variant.options_snapshot): PostgreSQL's jsonb
    keeps keys in an order of its own, so the stored order cannot be the one shown."""
    if not isinstance(options, dict):
        return ""
    return " · ".join(
        _("%(attribute)s: %(value)s") % {"attribute": attribute, "value": value}
        for attribute, value in sorted(options.items())
    )
