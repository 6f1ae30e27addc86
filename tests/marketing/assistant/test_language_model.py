"""The plug-in point for a language model (marketing/assistant/language_model.py): off by default,
asked only about what the matcher could not read, and never able to break a reply."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from marketing.assistant.contract import Entities, Intent, Understanding
from marketing.assistant.models import Turn
from tests.marketing.assistant import suite_catalog
from tests.marketing.assistant.talk import Chat

pytestmark = pytest.mark.django_db

asked: list[dict] = []


def reads_as_help(*, text, context, matched):
    asked.append({"text": text, "matched": matched.intent})
    return Understanding(intent=Intent.HELP, confidence=0.8, entities=Entities())


def unsure(*, text, context, matched):
    return Understanding(intent=Intent.HELP, confidence=0.2, entities=Entities())


def breaks(*, text, context, matched):
    raise TimeoutError("the service took too long")


def off_contract(*, text, context, matched):
    return {"intent": "help"}


def invents_an_intent(*, text, context, matched):
    return Understanding(intent="buy_everything", confidence=0.99, entities=Entities())


NOT_UNDERSTOOD = "wibble wobble plink"


@pytest.fixture(autouse=True)
def store():
    asked.clear()
    suite_catalog.build()


def test_off_by_default_the_matcher_alone_answers(settings):
    assert settings.ASSISTANT_LANGUAGE_MODEL == ""
    assert Chat().say(NOT_UNDERSTOOD).intent == Intent.UNKNOWN


def test_it_reads_what_the_matcher_could_not(settings):
    settings.ASSISTANT_LANGUAGE_MODEL = f"{__name__}.reads_as_help"
    reply = Chat().say(NOT_UNDERSTOOD)
    assert reply.intent == Intent.HELP
    assert asked == [{"text": NOT_UNDERSTOOD, "matched": Intent.UNKNOWN}]
    shopper = Turn.objects.get(role="shopper")
    assert (shopper.intent, shopper.confidence, shopper.fallback) == (Intent.HELP, 0.8, False)


def test_it_is_not_asked_about_what_the_matcher_read(settings):
    settings.ASSISTANT_LANGUAGE_MODEL = f"{__name__}.reads_as_help"
    assert Chat().say("red dresses under 100").intent == Intent.SEARCH
    assert asked == []


@pytest.mark.parametrize("plugin", ["unsure", "breaks", "off_contract", "invents_an_intent"])
def test_a_plugin_that_fails_leaves_the_honest_fallback(settings, plugin):
    settings.ASSISTANT_LANGUAGE_MODEL = f"{__name__}.{plugin}"
    reply = Chat().say(NOT_UNDERSTOOD)
    assert reply.intent == Intent.UNKNOWN
    assert reply.text.startswith("Sorry, I didn't understand that.")


def test_a_misspelt_plugin_stops_the_start(settings):
    settings.ASSISTANT_LANGUAGE_MODEL = "marketing.assistant.no_such_module.read"
    with pytest.raises(SystemCheckError, match="assistant.E001"):
        call_command("check")
