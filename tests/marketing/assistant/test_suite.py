"""The utterance suite (marketing/assistant/suite/utterances.yaml) against a fixed store: at least
90% right, the accuracy per intent printed at the end of the run."""

import pytest

from marketing.assistant import suite
from marketing.assistant.models import FaqEntry
from marketing.assistant.understanding import effective_intent, understand
from shop.catalog.models import Category
from tests.marketing.assistant import suite_catalog

TARGET = 0.90


class _Summary:
    def __init__(self, lines):
        self.lines = lines

    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.write_sep("-", "assistant utterance suite")
        for line in self.lines:
            terminalreporter.write_line(line)


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
    assert len(cases) >= 220
    from marketing.assistant.contract import Intent

    assert {c["intent"] for c in cases} == set(Intent.ALL)


def test_it_understands_at_least_90_percent_of_the_suite(store, request):
    results = []
    for case in suite.load():
        understanding = understand(case["text"], case.get("context"))
        results.append(suite.check(case, understanding, effective_intent(understanding), store))
    overall, lines = suite.report(results)
    misses = [
        f"  {r.text!r}: wanted {r.expected}, got {r.got} ({r.confidence:.2f}) {r.wrong}" for r in results if not r.right
    ]
    lines += ["misread:", *misses]
    request.node.user_properties.append(("assistant-suite", "\n".join(lines)))
    request.config.pluginmanager.register(_Summary(lines), "assistant-suite-summary")
    print("\n".join(lines))
    assert overall >= TARGET, "\n".join(lines)
