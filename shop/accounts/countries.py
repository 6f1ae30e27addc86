"""Country names in the customer's language, from Babel's CLDR data."""

from babel import Locale
from django.utils.translation import get_language, to_locale


def country_choices() -> list[tuple[str, str]]:
    try:
        locale = Locale.parse(to_locale(get_language() or "en"))
    except Exception:  # an unknown language code: fall back to English names
        locale = Locale("en")
    names = {code: name for code, name in locale.territories.items() if len(code) == 2 and code.isalpha()}
    return sorted(names.items(), key=lambda item: item[1])


def country_codes() -> set[str]:
    return {code for code, _name in country_choices()}
