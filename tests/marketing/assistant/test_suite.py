"""The utterance suite (marketing/assistant/suite/utterances.yaml) against a fixed store: at least
90% right. The accuracy per intent is recorded as the test's "assistant-suite" property and
printed at the end of the run by tests/conftest.py (AssistantSuiteSummary), with or without xdist."""

import pytest

from marketing.assistant import suite
from marketing.assistant.models import FaqEntry
from marketing.assistant.understanding import effective_intent, understand
from shop.catalog.models import Category
from tests.marketing.assistant import suite_catalog

TARGET = 0.90


@pytest.fixture
def store(db):
    built = suite_catalog.build()
    return {
        "products": built["ids"],
        "categories": {c.name: c.pk for c in Category.objects.all()},
        "faq": {f.question: f.pk for f in FaqEntry.objects.all()},
    }


def test_the_suite_has_the_utterances_it_promises():
    cases = suite.load()
    assert len(cases) >= 300
    from marketing.assistant.contract import Intent

    assert {c["intent"] for c in cases} == set(Intent.ALL)


def test_it_understands_at_least_90_percent_of_the_suite(store, record_property):
    results = []
    for case in suite.load():
        understanding = understand(case["text"], case.get("context"))
        results.append(suite.check(case, understanding, effective_intent(understanding), store))
    overall, lines = suite.report(results)
    misses = [
        f"  {r.text!r}: wanted {r.expected}, got {r.got} ({r.confidence:.2f}) {r.wrong}" for r in results if not r.right
    ]
    lines = [suite.headline(results), *lines, "misread:", *misses]
    record_property("assistant-suite", "\n".join(lines))
    assert overall >= TARGET, "\n".join(lines)
