"""The assistant's utterance suite: utterances.yaml, scored by `check()` (tests, bench/assistant.py),
and held_out.yaml: sentences never used to tune the matcher, the honest figure."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml

FILE = Path(__file__).with_name("utterances.yaml")
HELD_OUT = Path(__file__).with_name("held_out.yaml")


def load(file: Path = FILE) -> list[dict]:
    return yaml.safe_load(file.read_text())


@dataclass
class Result:
    text: str
    expected: str
    got: str
    confidence: float
    wrong: list[str] = field(default_factory=list)  # what was not read as expected

    @property
    def right(self) -> bool:
        return self.expected == self.got and not self.wrong


def check(case: dict, understanding, effective: str, names: dict) -> Result:
    """One utterance: the intent acted on and each listed entity. `names`: {"products": {name: id},
    "categories": {name: id}, "faq": {question: id}}."""
    e = understanding.entities
    wrong = []
    for key, want in (case.get("entities") or {}).items():
        if key == "category":
            ok = names["categories"][want] in e.category_ids
        elif key == "product":
            ok = names["products"][want] in e.product_ids
        elif key == "faq":
            ok = e.faq_id is not None and e.faq_id == next(pk for q, pk in names["faq"].items() if q.startswith(want))
        elif key == "words":
            ok = set(want) <= set(e.words)
        elif key == "brands":
            ok = set(want) <= set(e.brands)
        elif key == "values":
            ok = all(set(v) <= set(e.values.get(slug, ())) for slug, v in want.items())
        elif key in ("min_price", "max_price"):
            ok = getattr(e, key) == Decimal(str(want))
        else:
            ok = getattr(e, key) == want
        if not ok:
            wrong.append(f"{key}: wanted {want!r}")
    return Result(case["text"], case["intent"], effective, understanding.confidence, wrong)


def headline(results: list[Result]) -> str:
    """One line: "Assistant suite: 270/300 right (90.0%), per intent: add_to_cart 16/16, ..."."""
    by_intent = defaultdict(list)
    for r in results:
        by_intent[r.expected].append(r.right)
    right = sum(r.right for r in results)
    per_intent = ", ".join(f"{intent} {sum(v)}/{len(v)}" for intent, v in sorted(by_intent.items()))
    return f"Assistant suite: {right}/{len(results)} right ({right / len(results):.1%}), per intent: {per_intent}"


def held_out_headline(results: list[Result]) -> str:
    """One line: "Held-out sentences: 130/150 right (86.7%), per intent: ..."."""
    return headline(results).replace("Assistant suite:", "Held-out sentences:", 1)


def report(results: list[Result]) -> tuple[float, list[str]]:
    """The overall accuracy and a table: per intent, right/total."""
    by_intent = defaultdict(list)
    for r in results:
        by_intent[r.expected].append(r.right)
    lines = [f"{'intent':<15} right/total  accuracy"]
    for intent, rights in sorted(by_intent.items()):
        lines.append(f"{intent:<15} {sum(rights):>5}/{len(rights):<5}  {sum(rights) / len(rights):7.1%}")
    overall = sum(r.right for r in results) / len(results)
    lines.append(f"{'overall':<15} {sum(r.right for r in results):>5}/{len(results):<5}  {overall:7.1%}")
    return overall, lines
