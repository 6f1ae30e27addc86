"""Board search (docs/adboard.md): the same reading of a query as the catalog's search
(shop.catalog.search: words, light stems matched as prefixes, misspelt words corrected against
the board's own vocabulary), over a text column kept on each ad.

Each ad keeps its title's and its whole text's stems as " stem stem ... " (`search_title`,
`search_body`), so a word is found by `LIKE '% stem%'` on both databases (PostgreSQL indexes
the columns with pg_trgm, migration 0002). Relevance: 8 for each word in the title, 1 for each
found only in the rest; then the newest first.

The filters are one object (`Filters`) read from a query string, for the pages, the API and
saved searches alike, so a saved search's alert finds exactly what its page shows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from django.core.cache import cache
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from marketing.adboard import selectors
from marketing.adboard.models import Ad, AdField, Condition
from shop.catalog.search import MAX_WORDS, Vocabulary, stem, words

SORTS = {
    "relevance": gettext_lazy("Best match"),
    "newest": gettext_lazy("Newest"),
    "price": gettext_lazy("Price: low to high"),
    "-price": gettext_lazy("Price: high to low"),
    "rating": gettext_lazy("Seller's rating"),
}
TITLE_POINTS, BODY_POINTS = 8, 1
# The names a list's query string may carry (besides the details' f_<key>, f_<key>_min, f_<key>_max):
# a request with any other is answered without the list cache (cache.py).
PARAMS = frozenset(
    {"q", "category", "min_price", "max_price", "region", "city", "condition", "photos", "free", "sort", "page"}
)


def known_params(names, *, also=()) -> bool:
    return all(name in PARAMS or name in also or name.startswith("f_") for name in names)


VOCABULARY_SECONDS = 300
# The token's key is the one the vocabulary itself had: deleting it still makes the next search rebuild.
VOCABULARY_TOKEN_KEY, VOCABULARY_KEY = "adboard:vocabulary", "adboard:vocabulary:words"
# This process's copy of the vocabulary, under the token it was built for: a search reads the small
# token, not the whole vocabulary (thousands of words unpickled from the shared cache each time).
_latest: dict[str, Vocabulary] = {}


def index_texts(ad: Ad) -> tuple[str, str]:
    """The ad's stems: (title, everything: title, description, category and detail values)."""
    title = [stem(w) for w in words(ad.title)]
    names = []
    category = ad.category
    while category is not None:
        names.append(category.name)
        category = category.parent if category.parent_id else None
    values = [str(v) for v in (ad.details or {}).values() if not isinstance(v, bool)]
    body = title + [stem(w) for w in words(" ".join([ad.description, *names, *values]))]
    return f" {' '.join(title)} ", f" {' '.join(dict.fromkeys(body))} "


def vocabulary() -> Vocabulary:
    """The words of the public ads (for corrections), rebuilt every few minutes."""
    token = cache.get(VOCABULARY_TOKEN_KEY)
    found = _latest.get(token) if token else None
    if found is not None:
        return found
    entry = cache.get(VOCABULARY_KEY)
    if token and entry is not None and entry[0] == token:
        found = entry[1]
    else:
        texts = list(Ad.objects.public().values_list("title", "description")[:20000])
        found = Vocabulary.build([t for row in texts for t in row], [c.name for c in selectors.categories()], [])
        token = uuid.uuid4().hex
        cache.set(VOCABULARY_KEY, (token, found), VOCABULARY_SECONDS)
        cache.set(VOCABULARY_TOKEN_KEY, token, VOCABULARY_SECONDS)  # after the words: its readers find them
    _latest.clear()
    _latest[token] = found
    return found


# Numbers a detail filter accepts: far beyond any real value, well inside the databases' integers.
DETAIL_NUMBER_LIMIT = 10**15


def _text(value, limit: int = 80) -> str:
    """A filter's text without control characters (PostgreSQL refuses NUL in a string)."""
    return "".join(ch for ch in str(value) if ch.isprintable()).strip()[:limit]


@dataclass
class Filters:
    q: str = ""
    category: str = ""  # a slug; its sub-categories included
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    region: str = ""
    city: str = ""
    conditions: list[str] = field(default_factory=list)
    photos: bool = False
    free: bool = False
    details: dict[str, object] = field(default_factory=dict)  # key → value, [values] or (min, max)
    sort: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    # Filled by apply(): the words searched, when one was corrected.
    corrected: str = ""

    # -- reading --------------------------------------------------------------------------

    @classmethod
    def parse_query(cls, query: str) -> Filters:
        return cls.parse(QueryDict(query or ""))

    @classmethod
    def parse(cls, data) -> Filters:
        """Filters from a query string's values; a bad value is named in `errors` and ignored."""
        f = cls()
        f.q = " ".join(_text(data.get("q", ""), 200).split())
        f.category = _text(data.get("category", ""))
        for name in ("min_price", "max_price"):
            raw = str(data.get(name, "")).strip()
            if raw:
                try:
                    value = Decimal(raw)
                    if not value.is_finite() or value < 0 or value >= Decimal("1e10"):
                        raise InvalidOperation
                    setattr(f, name, value.quantize(Decimal("0.01")))
                except (InvalidOperation, ValueError):
                    f.errors[name] = _("Give a price as a number, e.g. 50.")
        if f.min_price is not None and f.max_price is not None and f.min_price > f.max_price:
            f.errors["max_price"] = _("The highest price is below the lowest.")
            f.max_price = None
        f.region = _text(data.get("region", ""))
        f.city = _text(data.get("city", ""))
        conditions = data.getlist("condition") if hasattr(data, "getlist") else data.get("condition", [])
        if isinstance(conditions, str):
            conditions = [conditions]
        f.conditions = sorted({c for c in conditions if c in Condition.values})
        f.photos = str(data.get("photos", "")).lower() in ("1", "true", "on", "yes")
        f.free = str(data.get("free", "")).lower() in ("1", "true", "on", "yes")
        sort = str(data.get("sort", "")).strip()
        if sort and sort not in SORTS:
            f.errors["sort"] = _("Sort by one of: %(sorts)s.") % {"sorts": ", ".join(SORTS)}
            sort = ""
        f.sort = sort
        category = selectors.category_by_slug(f.category) if f.category else None
        if f.category and category is None:
            f.errors["category"] = _("There is no category “%(slug)s”.") % {"slug": f.category}
            f.category = ""
        if category is not None:
            f._parse_details(data, category)
        return f

    def _parse_details(self, data, category) -> None:
        for fld in selectors.fields_for(category):
            if not fld.filterable:
                continue
            name = f"f_{fld.key}"
            if fld.kind == AdField.Kind.NUMBER:
                low, high = (str(data.get(f"{name}_min", "")).strip(), str(data.get(f"{name}_max", "")).strip())
                bounds = []
                for raw in (low, high):
                    try:
                        number = int(raw) if raw else None
                        if number is not None and abs(number) > DETAIL_NUMBER_LIMIT:
                            raise ValueError
                        bounds.append(number)
                    except ValueError:
                        self.errors[name] = _("%(label)s: give whole numbers.") % {"label": fld.label}
                        bounds.append(None)
                if bounds != [None, None]:
                    self.details[fld.key] = tuple(bounds)
            elif fld.kind == AdField.Kind.CHOICE:
                values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
                values = sorted({v for v in values if v in fld.choices})
                if values:
                    self.details[fld.key] = values
            elif fld.kind == AdField.Kind.YES_NO:
                raw = str(data.get(name, "")).lower()
                if raw in ("1", "true", "yes", "on"):
                    self.details[fld.key] = True
            else:
                raw = _text(data.get(name, ""))
                if raw:
                    self.details[fld.key] = raw

    # -- writing ----------------------------------------------------------------------------

    def pairs(self) -> list[tuple[str, str]]:
        """The filters as query-string pairs, in a fixed order (saved searches compare them)."""
        pairs = []
        if self.q:
            pairs.append(("q", self.q))
        if self.category:
            pairs.append(("category", self.category))
        for name in ("min_price", "max_price"):
            value = getattr(self, name)
            if value is not None:
                pairs.append((name, format(value.normalize(), "f")))
        for name in ("region", "city"):
            if getattr(self, name):
                pairs.append((name, getattr(self, name)))
        pairs += [("condition", c) for c in self.conditions]
        if self.photos:
            pairs.append(("photos", "1"))
        if self.free:
            pairs.append(("free", "1"))
        for key in sorted(self.details):
            value = self.details[key]
            if isinstance(value, tuple):
                if value[0] is not None:
                    pairs.append((f"f_{key}_min", str(value[0])))
                if value[1] is not None:
                    pairs.append((f"f_{key}_max", str(value[1])))
            elif isinstance(value, list):
                pairs += [(f"f_{key}", v) for v in value]
            elif value is True:
                pairs.append((f"f_{key}", "1"))
            else:
                pairs.append((f"f_{key}", str(value)))
        return pairs

    def query_string(self, *, with_sort: bool = False) -> str:
        pairs = self.pairs()
        if with_sort and self.sort:
            pairs.append(("sort", self.sort))
        return urlencode(pairs)

    @property
    def active(self) -> bool:
        return bool(self.pairs())

    def describe(self) -> str:
        """A name for a saved search: "sofa in Home › Furniture, up to 200"."""
        parts = []
        if self.q:
            parts.append(f"“{self.q}”")
        category = selectors.category_by_slug(self.category) if self.category else None
        if category is not None:
            parts.append(str(category))
        if self.min_price is not None or self.max_price is not None:
            low = format(self.min_price.normalize(), "f") if self.min_price is not None else "0"
            high = format(self.max_price.normalize(), "f") if self.max_price is not None else "…"
            parts.append(f"{low}–{high}")
        if self.city or self.region:
            parts.append(self.city or self.region)
        return ", ".join(parts) or _("All ads")


def _match(term: str) -> Q:
    return Q(search_body__contains=f" {stem(term)}")


def apply(filters: Filters, queryset):
    """The ads that match, with their `relevance`, in the chosen order."""
    qs = queryset
    terms: list[str] = []
    if filters.q:
        found = [w for w in words(filters.q)[:MAX_WORDS] if len(w) > 1 or w.isdigit()]
        vocab = vocabulary()
        fixed = [(vocab.correct(w) or w) for w in found]
        if fixed != found:
            filters.corrected = " ".join(fixed)
        terms = fixed
        for term in terms:
            qs = qs.filter(_match(term))
    if filters.category:
        category = selectors.category_by_slug(filters.category)
        if category is not None:
            qs = qs.filter(category_id__in=selectors.descendant_ids(category))
    if filters.min_price is not None:
        qs = qs.filter(price__gte=filters.min_price)
    if filters.max_price is not None:
        qs = qs.filter(Q(price__lte=filters.max_price) | Q(price_kind="free"))
    if filters.free:
        qs = qs.filter(price_kind="free")
    if filters.region:
        qs = qs.filter(region__iexact=filters.region)
    if filters.city:
        qs = qs.filter(city__iexact=filters.city)
    if filters.conditions:
        qs = qs.filter(condition__in=filters.conditions)
    if filters.photos:
        qs = qs.filter(photo_count__gt=0)
    for key, value in filters.details.items():
        if isinstance(value, tuple):
            if value[0] is not None:
                qs = qs.filter(**{f"details__{key}__gte": value[0]})
            if value[1] is not None:
                qs = qs.filter(**{f"details__{key}__lte": value[1]})
        elif isinstance(value, list):
            qs = qs.filter(**{f"details__{key}__in": value})
        elif value is True:
            qs = qs.filter(**{f"details__{key}": True})
        else:
            qs = qs.filter(**{f"details__{key}__iexact": value})
    if terms:
        points = [
            Case(
                When(Q(search_title__contains=f" {stem(t)}"), then=Value(TITLE_POINTS)),
                default=Value(BODY_POINTS),
                output_field=IntegerField(),
            )
            for t in terms
        ]
        relevance = points[0]
        for point in points[1:]:
            relevance = relevance + point
        qs = qs.annotate(relevance=relevance)
    sort = filters.sort or ("relevance" if terms else "newest")
    if sort == "relevance" and terms:
        return qs.order_by("-relevance", "-published_at", "-id")
    if sort == "price":
        return qs.order_by(F("price").asc(nulls_first=True), "-published_at", "-id")
    if sort == "-price":
        return qs.order_by(F("price").desc(nulls_last=True), "-published_at", "-id")
    if sort == "rating":
        return qs.order_by(F("owner__board__rating_score").desc(nulls_last=True), "-published_at", "-id")
    return qs.order_by("-published_at", "-id")
