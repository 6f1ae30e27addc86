"""The utterance suite (marketing/assistant/suite/utterances.yaml) against a fixed store: at least
90% right; and the held-out sentences (suite/held_out.yaml, never used to tune the matcher): at
least 80% right. The accuracies per intent are recorded as the tests' "assistant-suite" and
"assistant-held-out" properties and printed at the end of the run by tests/conftest.py
(AssistantSuiteSummary), with or without xdist."""

import pytest

from marketing.assistant import suite
from marketing.assistant.models import FaqEntry
from marketing.assistant.understanding import effective_intent, understand
from shop.catalog.models import Category
from tests.marketing.assistant import suite_catalog

TARGET = 0.90
HELD_OUT_TARGET = 0.80


@pytest.fixture
def store(db):
    built = suite_catalog.build()
    return {
        "products": built["ids"],
        "categories": {c.name: c.pk for c in Category.objects.all()},
        "faq": {f.question: f.pk for f in FaqEntry.objects.all()},
    }


def run(cases: list[dict], store: dict) -> list[suite.Result]:
    results = []
    for case in cases:
        understanding = understand(case["text"], case.get("context"))
        results.append(suite.check(case, understanding, effective_intent(understanding), store))
    return results


def misses(results: list[suite.Result]) -> list[str]:
    return [
        f"  {r.text!r}: wanted {r.expected}, got {r.got} ({r.confidence:.2f}) {r.wrong}" for r in results if not r.right
    ]


def test_the_suite_has_the_utterances_it_promises():
    cases = suite.load()
    assert len(cases) >= 300
    from marketing.assistant.contract import Intent

    assert {c["intent"] for c in cases} == set(Intent.ALL)


def test_the_held_out_sentences_cover_every_intent_and_none_is_in_the_suite():
    held_out = suite.load(suite.HELD_OUT)
    from marketing.assistant.contract import Intent

    assert len(held_out) >= 120
    assert {c["intent"] for c in held_out} == set(Intent.ALL)
    tuned = {c["text"].lower() for c in suite.load()}
    assert [c["text"] for c in held_out if c["text"].lower() in tuned] == []


def test_it_understands_at_least_90_percent_of_the_suite(store, record_property):
    results = run(suite.load(), store)
    overall, lines = suite.report(results)
    lines = [suite.headline(results), *lines, "misread:", *misses(results)]
    record_property("assistant-suite", "\n".join(lines))
    assert overall >= TARGET, "\n".join(lines)


def test_it_understands_at_least_80_percent_of_the_held_out_sentences(store, record_property):
    results = run(suite.load(suite.HELD_OUT), store)
    overall, lines = suite.report(results)
    lines = [suite.held_out_headline(results), *lines, "held-out misread:", *misses(results)]
    record_property("assistant-held-out", "\n".join(lines))
    assert overall >= HELD_OUT_TARGET, "\n".join(lines)
