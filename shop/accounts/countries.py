"""Country names in the customer's language, from Babel's CLDR data."""

import functools

from babel import Locale
from django.utils.translation import get_language, to_locale

# CLDR territories with two-letter codes that are not places anyone lives at:
# groupings (EU, EZ, UN, QO), pseudo-locales (XA, XB) and "Unknown Region" (ZZ).
NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})


def country_choices() -> list[tuple[str, str]]:
    try:
        locale = Locale.parse(to_locale(get_language() or "en"))
    except Exception:  # an unknown language code: fall back to English names
        locale = Locale("en")
    names = {
        code: name
        for code, name in locale.territories.items()
        if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES
    }
    return sorted(names.items(), key=lambda item: item[1])


def country_codes() -> frozenset[str]:
    return _codes(get_language() or "en")


@functools.lru_cache(maxsize=32)
def _codes(language: str) -> frozenset[str]:
    return frozenset(code for code, _name in country_choices())
