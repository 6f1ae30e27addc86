"""The plug-in point for an external language model: off unless settings.ASSISTANT_LANGUAGE_MODEL
names one (docs/assistant.md, "A language model").

The matcher in understanding.py reads every message first, offline, in about a millisecond. Only a
message it cannot read confidently is passed on, with the matcher's reading, to the plug-in: a
callable `read(*, text, context, matched) -> Understanding | None` at the dotted path the setting
names. Its answer is used when it keeps the contract (an intent of contract.Intent, a confidence
between 0 and 1) and is more confident than the matcher; anything else (None, a wrong shape, an
error, the service down) leaves the matcher's reading, so the shopper is told honestly that the
assistant did not understand. The plug-in only reads: every fact in the reply still comes from the
database, and it is given no id, email or order of the shopper's beyond what they wrote.

A plug-in that calls a service must bound its own wait (a timeout of a second or two): the reply
waits for it, holding the conversation's row.
"""

from __future__ import annotations

import logging
from functools import cache

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from marketing.assistant.contract import Intent, Understanding

logger = logging.getLogger(__name__)


@cache
def _plugin(path: str):
    return import_string(path)


def plugin():
    """The configured reader, or None when the plug-in point is off."""
    path = settings.ASSISTANT_LANGUAGE_MODEL
    return _plugin(path) if path else None


def _keeps_contract(found) -> bool:
    return (
        isinstance(found, Understanding)
        and found.intent in Intent.ALL
        and isinstance(found.confidence, int | float)
        and 0 <= found.confidence <= 1
    )


def second_opinion(text: str, context: dict, matched: Understanding) -> Understanding:
    """The matcher's reading, or the plug-in's when the matcher was unsure and the plug-in is surer."""
    if matched.confidence >= settings.ASSISTANT_CONFIDENCE:
        return matched
    read = plugin()
    if read is None:
        return matched
    try:
        found = read(text=text, context=dict(context), matched=matched)
    except Exception:  # a plug-in's failure (a service down, a bug) never fails the shopper's reply
        logger.exception("The assistant's language model failed; the matcher's reading stands.")
        return matched
    if found is None:
        return matched
    if not _keeps_contract(found):
        logger.warning("The assistant's language model answered outside the contract: %r", found)
        return matched
    return found if found.confidence > matched.confidence else matched


@checks.register()
def check_plugin(app_configs=None, **kwargs):
    """A misspelt plug-in path stops the start (manage.py check), rather than failing on each message."""
    path = settings.ASSISTANT_LANGUAGE_MODEL
    if not path:
        return []
    try:
        found = import_string(path)
    except ImportError as error:
        return [
            checks.Error(
                f"ASSISTANT_LANGUAGE_MODEL names {path!r}, which cannot be imported ({error}).",
                hint="Give the dotted path of a callable read(*, text, context, matched), or leave it empty.",
                id="assistant.E001",
            )
        ]
    if not callable(found):
        return [checks.Error(f"ASSISTANT_LANGUAGE_MODEL: {path!r} is not callable.", id="assistant.E002")]
    return []
