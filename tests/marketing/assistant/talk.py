"""Helpers for the dialogue's tests: a fixed reading of test sentences (the matcher has its own
suite), a request with a session, and a conversation to talk in."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import RequestFactory

from marketing.assistant import dialogue, services
from marketing.assistant.contract import Entities, Understanding


def read(intent: str, confidence: float = 0.9, **entities) -> Understanding:
    return Understanding(intent=intent, confidence=confidence, entities=Entities(**entities))


class Reader:
    """understanding.understand for the tests: each sentence the test taught it, else unknown."""

    def __init__(self):
        self.sentences: dict[str, Understanding] = {}
        self.contexts: list[dict] = []

    def teach(self, text: str, intent: str, confidence: float = 0.9, **entities) -> None:
        self.sentences[text] = read(intent, confidence, **entities)

    def __call__(self, text, context=None):
        self.contexts.append(dict(context or {}))
        return self.sentences.get(text) or read("unknown", 0.1)


@pytest.fixture
def reader(monkeypatch):
    from marketing.assistant import understanding

    found = Reader()
    monkeypatch.setattr(understanding, "understand", found)
    return found


def web_request(user=None):
    request = RequestFactory().post("/")
    SessionMiddleware(lambda r: None).process_request(request)
    request.session.save()
    request.user = user or AnonymousUser()
    return request


class Chat:
    """One shopper talking: say() sends a message and returns the reply."""

    def __init__(self, user=None, request=None):
        self.request = request or web_request(user)
        self.user = self.request.user
        self.conversation = services.conversation_get_or_create(request=self.request)

    def say(self, text: str):
        return dialogue.respond(self.conversation, text, user=self.user, request=self.request)

    @property
    def context(self) -> dict:
        self.conversation.refresh_from_db()
        return self.conversation.context


D = Decimal
