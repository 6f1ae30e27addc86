"""Product search: one service for the storefront's lists and the API (docs/search.md).

A query is read in three steps, the same on every database:

1. Words: lower-cased runs of letters and digits (at most MAX_WORDS), each cut to a light
   English stem ("dresses" → "dress", "shoes" → "shoe") that is matched as a prefix, so
   "dress" finds "dresses" and "dres", typed halfway, finds both.
2. Correction: a word that starts no word of the catalog's own vocabulary (the names,
   brands, descriptions and category names of active products) is replaced by the closest
   word that does, within one or two edits (rapidfuzz), the more frequent word first:
   "dresss" → "dress". A query that is a SKU, and words with digits, are never corrected.
3. Matching and ranking: every word must be found in the product's name, brand or
   description (the database's full-text index: PostgreSQL's GIN index on a weighted
   tsvector, SQLite's FTS5 table), or name its category or one above it, or name one of its
   attribute values (an active variant's colour or size, or its material), or be its SKU.
   The relevance adds, for each word, 8 for a name hit, 4 for the brand, 2 for the
   category, 2 for an attribute value, 1 for the description, and 100 for the exact SKU, so both databases rank
   alike; the database's own rank (SearchRank, FTS5's bm25) and, on PostgreSQL, the
   trigram similarity of the name to the query break ties.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass, field

from django.contrib.postgres.search import SearchQueryField, SearchRank, SearchVectorField, TrigramWordSimilarity
from django.db import connection
from django.db.models import BooleanField, Case, F, FloatField, Func, IntegerField, Q, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from rapidfuzz import process
from rapidfuzz.distance import OSA

from shop.catalog import cache as catalog_cache
from shop.catalog import selectors
from shop.catalog.variants import having_values

MAX_WORDS = 8
# Points a word earns where it is found (the relevance); an exact SKU comes before everything.
WEIGHTS = {"name": 8, "brand": 4, "category": 2, "attribute": 2, "description": 1}
SKU_POINTS = 100

_WORD = re.compile(r"[^\W_]+")
# The PostgreSQL document; the same expression as the GIN index (migration 0004_search_index).
_PG_DOCUMENT = (
    "setweight(to_tsvector('simple'::regconfig, coalesce(\"catalog_product\".\"name\", '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(\"catalog_product\".\"brand\", '')), 'B') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(\"catalog_product\".\"description\", '')), 'D')"
)
_PG_WEIGHT = {"name": "A", "brand": "B", "description": "D"}
# SQLite: the FTS5 table (migration 0004_search_index); the values (a MATCH expression, bm25's
# column weights) are parameters.
_SQLITE_MATCH = '"catalog_product"."id" IN (SELECT rowid FROM catalog_product_fts WHERE catalog_product_fts MATCH %s)'
_SQLITE_RANK = (
    "SELECT -bm25(catalog_product_fts, %s, %s, %s) FROM catalog_product_fts "
    'WHERE catalog_product_fts MATCH %s AND catalog_product_fts.rowid = "catalog_product"."id"'
)


def words(text: str) -> list[str]:
    """The words of a text as search compares them: lower case, letters and digits only."""
    return _WORD.findall(text.casefold())


def stem(word: str) -> str:
    """A light English stem, matched as a prefix: the plural's ending off when 3 letters or more are left."""
    if len(word) > 5 and word.endswith("ies"):
        return word[:-3]  # accessories, accessory → accessor
    if len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]  # dresses → dress, boxes → box
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]  # shoes → shoe
    return word


def max_edits(word: str) -> int:
    """How many typing mistakes a word may be corrected for: none below 4 letters, 2 from 7."""
    if len(word) < 4 or any(c.isdigit() for c in word):
        return 0
    return 1 if len(word) < 7 else 2


# -- the vocabulary ---------------------------------------------------------------------------


@dataclass
class Vocabulary:
    """The catalog's words, most frequent first, and the same sorted (for prefix look-ups)."""

    by_frequency: list[str]
    ordered: list[str]
    skus: frozenset[str]

    @classmethod
    def build(cls, texts, category_names, skus) -> Vocabulary:
        counts = Counter()
        # Each distinct text read once (names and descriptions repeat across a range of products).
        for text, times in Counter(texts).items():
            for word, n in Counter(words(text)).items():
                counts[word] += n * times
        for name in category_names:
            counts.update(words(name))
        by_frequency = [word for word, _n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
        return cls(by_frequency, sorted(counts), frozenset(sku.casefold() for sku in skus))

    def knows(self, word: str) -> bool:
        """Whether some word of the catalog starts with this word's stem."""
        prefix = stem(word)
        i = bisect.bisect_left(self.ordered, prefix)
        return i < len(self.ordered) and self.ordered[i].startswith(prefix)

    def correct(self, word: str) -> str | None:
        """The closest known word, or None when there is none near enough (or nothing to correct)."""
        edits = max_edits(word)
        if not edits or self.knows(word):
            return None
        found = process.extractOne(word, self.by_frequency, scorer=OSA.distance, score_cutoff=edits)
        return found[0] if found else None


# The last vocabulary this process used, under the tokens it was built for: a search reads it
# with two token reads, no unpickling, and builds it once per catalog change (page cache or not).
_latest: dict[tuple[str, str], Vocabulary] = {}


def vocabulary() -> Vocabulary:
    """The vocabulary of the active catalog: one query, kept while the lists and the tree hold."""
    on = (catalog_cache.LISTS, catalog_cache.TREE)
    tokens = tuple(catalog_cache.token(name) for name in on)  # read before the rows
    found = _latest.get(tokens)
    if found is None:
        found = catalog_cache.cached("search-vocabulary", (), _build_vocabulary, on=on)
        _latest.clear()
        _latest[tokens] = found
    return found


def _build_vocabulary() -> Vocabulary:
    from shop.catalog.models import Product

    rows = list(Product.objects.active().values_list("name", "brand", "description", "sku"))
    texts = [text for row in rows for text in row[:3] if text]
    from shop.catalog.variants import attributes

    names = [c.name for c in selectors.category_tree()]
    names += [v.name for a in attributes().values() for v in a.values.values()]  # "red" is no misspelt "bed"
    return Vocabulary.build(texts, names, [row[3] for row in rows])


# -- a query ----------------------------------------------------------------------------------


@dataclass
class Search:
    """A query as the shopper typed it and as it is searched."""

    text: str  # as typed, spaces tidied
    terms: list[str]  # the words searched (corrected), their stems matched as prefixes
    corrected: str | None = None  # the query searched, when a word was corrected
    suggestion: str | None = None  # the correction, when the shopper asked for the words as typed
    categories: dict[str, set[int]] = field(default_factory=dict)  # term → the ids of the categories it names
    values: dict[str, set[int]] = field(default_factory=dict)  # term → the attribute values it names ("red")

    @property
    def searched(self) -> str:
        return self.corrected or self.text

    def filter(self, queryset):
        """The products that match, each with its `relevance` (and `text_rank`, for ties)."""
        if not self.terms and not self.text:
            return queryset
        return _backend().apply(self, queryset)


def prepare(text: str, *, correct: bool = True) -> Search:
    """Read a query: its words, their corrections (unless `correct` is off) and the categories they name."""
    text = " ".join(text.split())
    all_words = words(text)[:MAX_WORDS]
    # A lone letter ("women's" → "women", "s") narrows nothing; keep it only when it is all there is.
    found = [w for w in all_words if len(w) > 1 or w.isdigit()] or all_words
    vocab = vocabulary()
    corrections = {}
    if text.casefold() not in vocab.skus:
        corrections = {w: c for w in found if (c := vocab.correct(w))}
    fixed = [corrections.get(w, w) for w in found]
    if corrections:
        corrected_text = " ".join(fixed)
    search = Search(text=text, terms=fixed if correct else found)
    if corrections and correct:
        search.corrected = corrected_text
    elif corrections:
        search.suggestion = corrected_text
    search.categories = _categories_named(search.terms)
    search.values = _values_named(search.terms)
    return search


def _values_named(terms: list[str]) -> dict[str, set[int]]:
    """For each term, the attribute values (Red, XL, Cotton) whose name has a word it starts."""
    from shop.catalog.variants import values_named

    named = {}
    for term in terms:
        if ids := values_named(stem(term)):
            named[term] = ids
    return named


def _categories_named(terms: list[str]) -> dict[str, set[int]]:
    """For each term, the categories (with everything below them) whose name has a word it starts."""
    tree = selectors.category_tree()
    named: dict[str, set[int]] = {}
    for term in terms:
        prefix = stem(term)
        paths = [c.path for c in tree if any(w.startswith(prefix) for w in words(c.name))]
        if paths:
            named[term] = {c.pk for c in tree if any(c.path == p or c.path.startswith(p + "/") for p in paths)}
    return named


def matching_categories(search: Search, limit: int = 6):
    """The categories a query names (for a page with no results), from the cached tree."""
    ids = set().union(*search.categories.values()) if search.categories else set()
    tree = selectors.category_tree()
    named = [c for c in tree if c.pk in ids]
    # The highest categories named: "dress" names Dresses, not each category below it.
    top = [c for c in named if not any(c.path.startswith(o.path + "/") for o in named)]
    return top[:limit]


# -- the databases ----------------------------------------------------------------------------


def _backend():
    return _PostgreSQL() if connection.vendor == "postgresql" else _SQLite()


class _Backend:
    def text_match(self, term: str, column: str | None = None):
        """A condition: this term (as a prefix of its stem) is in the column (any indexed column when None)."""
        raise NotImplementedError

    def text_rank(self, search: Search):
        """The database's own rank of the text match (for ties in the relevance)."""
        raise NotImplementedError

    def apply(self, search: Search, queryset):
        sku = Q(sku__iexact=search.text)
        every_word = Q()
        for term in search.terms:
            found = self.text_match(term) | Q(sku__iexact=term) | Q(category_id__in=search.categories.get(term, ()))
            if search.values.get(term):
                found |= having_values(search.values[term])
            every_word &= found
        queryset = queryset.filter(sku | every_word) if search.terms else queryset.filter(sku)
        points = [Case(When(sku, then=Value(SKU_POINTS)), default=Value(0), output_field=IntegerField())]
        for term in search.terms:
            for column in ("name", "brand", "description"):
                points.append(
                    Case(
                        When(self.text_match(term, column), then=Value(WEIGHTS[column])),
                        default=Value(0),
                        output_field=IntegerField(),
                    )
                )
            if search.categories.get(term):
                points.append(
                    Case(
                        When(category_id__in=search.categories[term], then=Value(WEIGHTS["category"])),
                        default=Value(0),
                        output_field=IntegerField(),
                    )
                )
            if search.values.get(term):
                points.append(
                    Case(
                        When(having_values(search.values[term]), then=Value(WEIGHTS["attribute"])),
                        default=Value(0),
                        output_field=IntegerField(),
                    )
                )
        relevance = points[0]
        for point in points[1:]:
            relevance = relevance + point
        return queryset.annotate(relevance=relevance, text_rank=self.text_rank(search))


class _PostgreSQL(_Backend):
    def _document(self):
        return RawSQL(_PG_DOCUMENT, [], output_field=SearchVectorField())  # noqa: S611 (a constant)

    def _query(self, expression: str):
        # Terms are letters and digits only (words()): nothing in them is tsquery syntax.
        return RawSQL("to_tsquery('simple'::regconfig, %s)", [expression], output_field=SearchQueryField())  # noqa: S611

    def text_match(self, term, column=None):
        weight = _PG_WEIGHT[column] if column else ""
        query = self._query(f"{stem(term)}:*{weight}")
        return Q(
            Func(self._document(), query, template="(%(expressions)s)", arg_joiner=" @@ ", output_field=BooleanField())
        )

    def text_rank(self, search):
        if not search.terms:
            return Value(0.0, output_field=FloatField())
        query = self._query(" | ".join(f"{stem(t)}:*" for t in search.terms))
        return SearchRank(self._document(), query) + TrigramWordSimilarity(Value(search.searched), F("name"))


class _SQLite(_Backend):
    def _fts(self, term: str, column: str | None) -> str:
        # Terms are letters and digits only (words()): quoted, nothing in them is FTS5 syntax.
        return f'{column + " : " if column else ""}"{stem(term)}"*'

    def text_match(self, term, column=None):
        return Q(RawSQL(_SQLITE_MATCH, [self._fts(term, column)], output_field=BooleanField()))  # noqa: S611

    def text_rank(self, search):
        if not search.terms:
            return Value(0.0, output_field=FloatField())
        query = " OR ".join(self._fts(t, None) for t in search.terms)
        weights = [WEIGHTS["name"], WEIGHTS["brand"], WEIGHTS["description"]]
        rank = RawSQL(_SQLITE_RANK, [*weights, query], output_field=FloatField())  # noqa: S611 (values are parameters)
        return Coalesce(rank, Value(0.0))


# -- suggestions as you type ------------------------------------------------------------------

SUGGESTIONS = 8
SUGGEST_SECONDS = 60


def suggest(text: str, *, limit: int = SUGGESTIONS) -> dict:
    """What the search box offers while typing: the best products, the categories the words
    name, and the corrected query. Products are model instances with their offers; a constant
    number of queries whatever the catalog's size."""
    from shop.catalog.models import Product
    from shop.catalog.offers import attach_offers

    search = prepare(text)
    ids = []
    if search.text:
        ranked = search.filter(Product.objects.active()).order_by("-relevance", "-text_rank", "-id")
        ids = list(ranked.values_list("pk", flat=True)[:limit])
    products = {p.pk: p for p in attach_offers(selectors.products_for_cards(ids=ids))} if ids else {}
    return {
        "query": search.text,
        "corrected": search.corrected,
        "products": [products[pk] for pk in ids if pk in products],
        "categories": matching_categories(search),
    }


# -- when nothing matches ---------------------------------------------------------------------

POPULAR = 8


def popular_product_ids(limit: int = POPULAR) -> list[int]:
    """The best-rated products in stock (the most reviewed first among equals): cached with the lists."""
    from shop.catalog.models import Product

    def build():
        products = (
            Product.objects.active()
            .in_stock()
            .order_by(F("rating_score").desc(nulls_last=True), F("rating_count").desc(), F("id").desc())
        )
        return list(products.values_list("pk", flat=True)[:limit])

    return catalog_cache.cached("search-popular", (limit,), build, on=(catalog_cache.LISTS,))


def categories_to_try(search: Search | None, limit: int = 6) -> list:
    """For a search that found nothing: the categories its words name, else the top categories."""
    named = matching_categories(search, limit) if search else []
    return named or selectors.category_roots(selectors.category_tree())[:limit]
