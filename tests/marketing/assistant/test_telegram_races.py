"""Telegram deliveries under real concurrency: threads, each on its own database connection, released at once.

Marked `race` (tests/concurrency.py): skipped on SQLite, which serialises transactions; run on PostgreSQL:
    .ci/with-postgres.sh .venv/bin/pytest tests/marketing/assistant/test_telegram_races.py -p no:xdist --require-races
"""

from decimal import Decimal

import pytest

from marketing.assistant.models import Conversation, Turn
from tests.concurrency import run_at_once
from tests.factories import ProductFactory
from tests.marketing.assistant.test_telegram import SECRET, SITE, payload, post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]


@pytest.fixture(autouse=True)
def telegram_on(settings):
    settings.ASSISTANT_TELEGRAM_SECRET = SECRET
    settings.ASSISTANT_TELEGRAM_MESSAGES_PER_CHAT = (100, 60)
    settings.SHOP_SITE_URL = SITE


def test_two_deliveries_of_one_update_at_once_are_answered_once(reader):
    ProductFactory(name="Canvas Bag", price=Decimal("15.00"), stock=2)
    reader.teach("canvas bags", "search", words=("canvas",))
    earlier = payload("private_text")
    post(earlier)  # the chat has talked before: its conversation exists, no insert to queue on
    update = {**earlier, "update_id": earlier["update_id"] + 1}

    responses = run_at_once([lambda: post(update) for _ in range(4)])

    assert {r.status_code for r in responses} == {200}
    bodies = [r.json() for r in responses]
    # The first answers; the others see its update_id under the lock and send the same reply again.
    assert all(body == bodies[0] for body in bodies) and bodies[0]["text"].startswith("Here is what I found:")
    assert Turn.objects.count() == 4
    assert Conversation.objects.get().context["telegram_update"] == update["update_id"]


def test_a_new_chats_first_messages_at_once_make_one_conversation(reader):
    reader.teach("hello", "greet")
    updates = []
    for n in range(4):
        update = payload("start_command")
        update["update_id"] += n
        updates.append(update)

    responses = run_at_once([lambda u=u: post(u) for u in updates])

    assert {r.status_code for r in responses} == {200}
    assert Conversation.objects.count() == 1
    # In whatever order they took the lock, each update after the highest seen is answered, none twice.
    assert Turn.objects.count() <= 8 and Turn.objects.count() % 2 == 0
    assert Conversation.objects.get().context["telegram_update"] == max(u["update_id"] for u in updates)
