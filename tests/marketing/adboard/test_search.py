"""Board search: words as the catalog reads them (stems, prefixes, corrections), relevance,
the category with its sub-categories, the price range, the category's own details as filters,
and only public ads, whatever is asked."""

import pytest
from django.core.cache import cache

from marketing.adboard import search
from marketing.adboard.models import Ad
from tests.marketing.adboard.test_services import post, published

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_vocabulary():
    cache.delete("adboard:vocabulary")


def found(query: str) -> list[int]:
    filters = search.Filters.parse_query(query)
    assert not filters.errors, filters.errors
    return list(search.apply(filters, Ad.objects.public()).values_list("pk", flat=True))


def test_words_are_found_by_stem_and_prefix_and_the_title_ranks_first():
    in_title = published(title="Leather sofas, three seats", slug="furniture", details={}, price="300")
    in_text = published(
        title="Living room set", description="A leather sofa and two chairs.", slug="furniture", details={}, price="450"
    )
    published(title="Oak dining table", slug="furniture", details={}, price="200")
    assert found("q=sofa") == [in_title.pk, in_text.pk]
    assert found("q=leath") == [in_title.pk, in_text.pk]  # typed halfway


def test_a_misspelt_word_is_corrected_against_the_boards_own_words():
    golf = published(title="Volkswagen Golf")
    filters = search.Filters.parse_query("q=volkswagn")
    assert list(search.apply(filters, Ad.objects.public()).values_list("pk", flat=True)) == [golf.pk]
    assert filters.corrected == "volkswagen"


def test_category_includes_its_sub_categories_and_price_range_and_detail_filters():
    old = published(title="Ford Fiesta", price="2500", details={"year": 2009, "mileage": 150000, "fuel": "petrol"})
    new = published(title="Ford Focus", price="9500", details={"year": 2019, "mileage": 30000, "fuel": "hybrid"})
    bike = published(title="Road bike", slug="bicycles", details={"frame": "M"}, price="400")
    assert set(found("category=vehicles")) == {old.pk, new.pk, bike.pk}
    assert set(found("category=cars")) == {old.pk, new.pk}
    assert found("category=cars&f_year_min=2015") == [new.pk]
    assert found("category=cars&f_mileage_max=100000&f_fuel=hybrid&f_fuel=diesel") == [new.pk]
    assert found("category=vehicles&min_price=300&max_price=3000&sort=price") == [bike.pk, old.pk]
    assert found("category=bicycles&f_frame=M") == [bike.pk]


def test_sorting_by_price_both_ways_and_free_ads():
    cheap = published(title="Chair", slug="furniture", details={}, price="15")
    dear = published(title="Wardrobe", slug="furniture", details={}, price="350")
    free = published(title="Old shelf", slug="furniture", details={}, price_kind="free", price="")
    assert found("category=furniture&sort=-price") == [dear.pk, cheap.pk, free.pk]
    assert found("category=furniture&free=1") == [free.pk]
    assert free.pk in found("category=furniture&max_price=10")  # free is under any price


def test_hidden_pending_rejected_expired_and_deleted_ads_are_never_found():
    public = published(title="Golf estate")
    pending = post(title="Golf hatchback")
    rejected = post(title="Golf convertible")
    from marketing.adboard import services

    services.ad_reject(rejected, reason="Blurred photos")
    hidden = published(title="Golf GTI")
    Ad.objects.filter(pk=hidden.pk).update(status=Ad.Status.HIDDEN)
    deleted = published(title="Golf diesel")
    services.ad_delete(deleted, deleted.owner)
    assert found("q=golf") == [public.pk]
    assert pending.pk not in found("")


def test_bad_values_are_named_and_ignored():
    filters = search.Filters.parse_query("min_price=abc&sort=cheapest&category=spaceships&max_price=-1")
    assert set(filters.errors) == {"min_price", "sort", "category", "max_price"}
    assert filters.min_price is None and filters.category == ""


def test_the_query_string_is_normalised_for_saved_searches():
    filters = search.Filters.parse_query("sort=price&category=cars&q=golf&f_year_min=2010&page=2&condition=good")
    assert filters.query_string() == "q=golf&category=cars&condition=good&f_year_min=2010"
    assert filters.describe().startswith("“golf”, Vehicles › Cars")


def test_numbers_beyond_the_databases_and_control_characters_are_refused_or_dropped():
    filters = search.Filters.parse_query(
        "category=cars&f_year_min=99999999999999999999999&max_price=99999999999999999999999&city=Lee%00ds"
    )
    assert set(filters.errors) == {"f_year", "max_price"}
    assert filters.city == "Leeds" and "year" not in filters.details
    assert list(search.apply(filters, Ad.objects.public())) == []


def test_a_huge_number_in_the_page_address_is_a_400_not_a_500(client):
    published(title="Ford Fiesta")
    response = client.get("/ads/", {"category": "cars", "f_year_min": "9" * 30, "region": "York\x00shire"})
    assert response.status_code == 400
    assert "Year: give whole numbers." in response.content.decode()
