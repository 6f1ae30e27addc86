"""Reads what search engines and link previews read in a page: its head tags and JSON-LD."""

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Head:
    canonical: list[str] = field(default_factory=list)
    meta: dict[str, list[str]] = field(default_factory=dict)  # name or property -> contents
    json_ld: list[dict] = field(default_factory=list)

    def one(self, key: str) -> str:
        values = self.meta.get(key, [])
        assert len(values) == 1, f"{key}: {values}"
        return values[0]

    def of_type(self, kind: str) -> dict:
        found = [data for data in self.json_ld if data.get("@type") == kind]
        assert len(found) == 1, f"{kind}: {self.json_ld}"
        return found[0]


class _Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.head = Head()
        self._script: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("rel") == "canonical":
            self.head.canonical.append(attrs["href"])
        elif tag == "meta" and ("name" in attrs or "property" in attrs):
            key = attrs.get("property") or attrs["name"]
            self.head.meta.setdefault(key, []).append(attrs.get("content", ""))
        elif tag == "script" and attrs.get("type") == "application/ld+json":
            self._script = []

    def handle_data(self, data):
        if self._script is not None:
            self._script.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.head.json_ld.append(json.loads("".join(self._script)))
            self._script = None


def read_head(response) -> Head:
    reader = _Reader()
    reader.feed(response.content.decode())
    reader.close()
    return reader.head
