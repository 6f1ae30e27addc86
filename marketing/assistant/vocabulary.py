"""The words the assistant reads a sentence with: the catalog's own (product names, categories,
brands, attribute values), the store's synonyms and its FAQ entries (docs/assistant.md).

Built with a few queries once per change and kept, like the search's vocabulary
(shop.catalog.search.vocabulary): under the catalog's `lists` and `tree` tokens, and the
assistant's own token, which a saved or deleted Synonym or FaqEntry replaces. A request reads the
tokens (one cache read) and finds the vocabulary this process last built for them: no query.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models.signals import post_delete, post_save

from shop.catalog import cache as catalog_cache
from shop.catalog.search import stem, words
from shop.core import tokens

TOKEN_KEY = "assistant:token:words"

# Words shoppers use for the ones the store uses, before the staff's own (the Synonym model wins).
# Multi-word phrases are read before single words.
BUILT_IN_SYNONYMS = {
    "sneakers": "sneaker",
    "trainers": "sneaker",
    "trainer": "sneaker",
    "t shirt": "tee",
    "t shirts": "tee",
    "tshirt": "tee",
    "tshirts": "tee",
    "telly": "speaker",
    "earphone": "earphones",
    "headset": "headphones",
    "headsets": "headphones",
    "cans": "headphones",
    "mobile": "phone",
    "cellphone": "phone",
    "jumper": "cardigan",
    "sweater": "cardigan",
    "coat": "jacket",
    "coats": "jackets",
    "frying pan": "skillet",
    "lippy": "lipstick",
    "moisturiser": "moisturizer",
    "comforter": "duvet",
    "gray": "grey",
    "colour": "colour",
    "color": "colour",
    "colors": "colours",
    "sofa cushion": "throw pillow",
    "teapot": "tea kettle",
    # Chat spellings too short to correct
    "wat": "what",
    "wot": "what",
    "hw": "how",
}

# Persona and occasion words → what the catalog sells them (category or product words, kept when the
# catalog has them): "gifts for a runner" searches the running shoes and sport earphones, not a
# product named "runner". Small on purpose: each entry is a shop assistant's first idea.
GIFT_IDEAS = {
    "runner": ("runner", "sport earphones", "headphones"),
    "running": ("runner", "sport earphones"),
    "jogger": ("runner", "sport earphones"),
    "yogi": ("yoga",),
    "camper": ("camping",),
    "hiker": ("camping", "backpack"),
    "hiking": ("camping", "backpack"),
    "cook": ("cookware",),
    "chef": ("cookware",),
    "baker": ("cookware",),
    "foodie": ("cookware", "coffee"),
    "coffee lover": ("coffee",),
    "tea lover": ("tea",),
    "music lover": ("headphones", "speakers"),
    "gamer": ("headphones",),
    "housewarming": ("decor", "bedding"),
    "new home": ("decor", "bedding"),
    "traveller": ("travel", "power bank"),
    "traveler": ("travel", "power bank"),
}


@dataclass
class Vocabulary:
    """What understanding matches against; every part plain data (it is pickled into the cache)."""

    catalog_words: list[str] = field(default_factory=list)  # the catalog's words, most frequent first
    catalog_sorted: list[str] = field(default_factory=list)
    # Product names: stem → ids; and each product's words (its name, its attribute values' names).
    name_index: dict[str, set[int]] = field(default_factory=dict)
    product_values: dict[int, set[int]] = field(default_factory=dict)  # product id → attribute value ids
    # Categories: (id, path, parent path, its name's word stems).
    categories: list[tuple[int, str, str, tuple[str, ...]]] = field(default_factory=list)
    brands: dict[tuple[str, ...], str] = field(default_factory=dict)  # ("oak", "ember") → "Oak & Ember"
    # Attribute values: their name's words → (attribute slug, value slug, value id, sized: a size's value).
    values: dict[tuple[str, ...], list[tuple[str, str, int, bool]]] = field(default_factory=dict)
    synonyms: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    faq: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)  # id → the phrasings (normalised)
    gifts: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)  # persona → catalog words

    def knows(self, word: str) -> bool:
        """Whether some catalog word starts with this word's stem (as search reads it)."""
        prefix = stem(word)
        i = bisect.bisect_left(self.catalog_sorted, prefix)
        return i < len(self.catalog_sorted) and self.catalog_sorted[i].startswith(prefix)

    def has(self, word: str) -> bool:
        """Whether the catalog has this very word (or its stem): "skillet", "tee"."""
        for w in {word, stem(word)}:
            i = bisect.bisect_left(self.catalog_sorted, w)
            if i < len(self.catalog_sorted) and self.catalog_sorted[i] == w:
                return True
        return False

    @property
    def faq_words(self) -> set[str]:
        """Every word of the FAQ entries' questions and phrasings."""
        found = self.__dict__.get("_faq_words")
        if found is None:
            found = self.__dict__["_faq_words"] = {w for _pk, ps in self.faq for p in ps for w in p.split()}
        return found

    def products_named(self, word: str) -> set[int]:
        """The products whose name has a word starting with this word's stem."""
        prefix = stem(word)
        found: set[int] = set()
        i = bisect.bisect_left(self._index_keys, prefix)
        while i < len(self._index_keys) and self._index_keys[i].startswith(prefix):
            # "dres" names dresses; "car" names no cardigan, nor "book" a bookshelf.
            if len(self._index_keys[i]) - len(prefix) <= 2:
                found |= self.name_index[self._index_keys[i]]
            i += 1
        return found

    @property
    def _index_keys(self) -> list[str]:
        keys = self.__dict__.get("_keys")
        if keys is None:
            keys = self.__dict__["_keys"] = sorted(self.name_index)
        return keys


# The last vocabulary this process used, under the tokens it was built for.
_latest: dict[tuple[str, ...], Vocabulary] = {}


def vocabulary() -> Vocabulary:
    """The assistant's vocabulary for the active catalog, synonyms and FAQ: built once per change."""
    on = (catalog_cache.LISTS, catalog_cache.TREE)
    read = tokens.read([catalog_cache.token_key(name) for name in on] + [TOKEN_KEY])  # before the rows
    key = tuple(read[k] for k in sorted(read))
    found = _latest.get(key)
    if found is None:
        found = catalog_cache.kept("assistant-vocabulary", (read[TOKEN_KEY],), build, on=on)
        _latest.clear()
        _latest[key] = found
    return found


def words_changed(**_kwargs) -> None:
    """A synonym or an FAQ entry changed: the vocabulary is built again at its next use."""
    tokens.bump({TOKEN_KEY})


def _phrase(text: str) -> tuple[str, ...]:
    return tuple(words(text.replace("'", "")))


def build() -> Vocabulary:
    """The vocabulary, read from the database: a handful of queries whatever the catalog's size."""
    from shop.catalog import search, selectors
    from shop.catalog.models import Product, ProductAttributeValue, VariantOption
    from shop.catalog.variants import attributes

    from .models import FaqEntry, Synonym

    vocab = Vocabulary()
    catalog = search.vocabulary()
    vocab.catalog_words = list(catalog.by_frequency)
    vocab.catalog_sorted = list(catalog.ordered)

    index: dict[str, set[int]] = defaultdict(set)
    brands: set[str] = set()
    for pk, name, brand in Product.objects.active().values_list("pk", "name", "brand"):
        for word in words(name):
            index[stem(word)].add(pk)
        if brand:
            brands.add(brand)
    vocab.name_index = dict(index)
    vocab.brands = {_phrase(b): b for b in brands if _phrase(b)}

    product_values: dict[int, set[int]] = defaultdict(set)
    options = VariantOption.objects.filter(variant__is_active=True, variant__product__is_active=True)
    for product_id, value_id in options.values_list("variant__product_id", "value_id").distinct():
        product_values[product_id].add(value_id)
    for product_id, value_id in ProductAttributeValue.objects.values_list("product_id", "value_id"):
        product_values[product_id].add(value_id)
    vocab.product_values = dict(product_values)

    for c in selectors.category_tree():
        parent = c.path.rsplit("/", 1)[0] if "/" in c.path else ""
        vocab.categories.append((c.pk, c.path, parent, tuple(stem(w) for w in _phrase(c.name) if len(w) > 1)))

    values: dict[tuple[str, ...], list] = defaultdict(list)
    for attribute in attributes().values():
        for value in attribute.values.values():
            sized = "size" in attribute.slug or len(value.name) <= 2 or value.name.isdigit()
            values[_phrase(value.name)].append((attribute.slug, value.slug, value.id, sized))
    vocab.values = dict(values)

    synonyms = {_phrase(w): _phrase(m) for w, m in BUILT_IN_SYNONYMS.items()}
    synonyms.update({_phrase(w): _phrase(m) for w, m in Synonym.objects.values_list("word", "means")})
    vocab.synonyms = {w: m for w, m in synonyms.items() if w and m and w != m}

    for entry in FaqEntry.objects.filter(is_active=True).order_by("position", "id"):
        phrasings = [entry.question, *entry.phrasings.splitlines()]
        vocab.faq.append((entry.pk, tuple(" ".join(_phrase(p)) for p in phrasings if _phrase(p))))

    vocab.gifts = {_phrase(w): ideas for w, ideas in GIFT_IDEAS.items()}
    return vocab


def _connect() -> None:
    from .models import FaqEntry, Synonym

    for model in (FaqEntry, Synonym):
        post_save.connect(words_changed, sender=model, dispatch_uid=f"assistant-words-{model.__name__}-save")
        post_delete.connect(words_changed, sender=model, dispatch_uid=f"assistant-words-{model.__name__}-delete")


_connect()
