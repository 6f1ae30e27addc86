"""The demo's shopping assistant (marketing/assistant/demo.py): its FAQ answers what it is asked, and a
year of real conversations gives the admin and the analytics panel believable figures."""

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from loyalty import program
from marketing.assistant import dialogue, understanding
from marketing.assistant.contract import Intent
from marketing.assistant.models import Conversation, FaqEntry, Synonym, Ticket, TicketEmail, Turn
from marketing.assistant.panels import summary
from shop.core.money import Money

pytestmark = pytest.mark.django_db
SEEDER = "marketing.assistant.demo.seed"


def counts() -> dict[str, int]:
    return {
        "faq": FaqEntry.objects.count(),
        "synonyms": Synonym.objects.count(),
        "conversations": Conversation.objects.count(),
        "turns": Turn.objects.count(),
        "tickets": Ticket.objects.count(),
    }


@pytest.fixture(scope="module")
def seeded(demo_store):
    assert SEEDER in settings.DEMO_SEEDERS
    return {"first": demo_store["first"][__name__], "second": demo_store["second"][__name__]}


def test_it_seeds_the_faq_once_and_a_second_run_adds_nothing(seeded):
    assert seeded["first"] == seeded["second"]
    assert seeded["first"]["faq"] == 12 and seeded["first"]["synonyms"] >= 10
    assert FaqEntry.objects.values("question").distinct().count() == 12


def test_each_faq_question_is_answered_by_its_own_entry(seeded):
    for entry in FaqEntry.objects.all():
        read = understanding.understand(entry.question, {})

        assert (read.intent, read.entities.faq_id) == (Intent.FAQ, entry.pk), entry.question
        reply = dialogue.respond(Conversation.objects.create(), entry.question, user=AnonymousUser())
        assert reply.text == entry.answer


@pytest.mark.parametrize(
    "asked, question",
    [
        ("how long does shipping take", "How long does shipping take?"),
        ("how much is delivery?", "How much does shipping cost?"),
        ("can I pay with paypal", "Which payment methods do you accept?"),
        ("when do points expire", "How do loyalty points work?"),
        ("do you offer gift wrapping?", "Do you offer gift wrapping?"),
        ("how long do refunds take", "What is your return policy?"),
    ],
)
def test_a_shopper_asking_in_their_own_words_gets_the_entry(seeded, asked, question):
    reply = dialogue.respond(Conversation.objects.create(), asked, user=AnonymousUser())

    assert reply.intent == Intent.FAQ
    assert reply.text == FaqEntry.objects.get(question=question).answer


def test_the_answers_state_the_stores_own_shipping_prices_and_points_rate(seeded):
    methods = settings.SHOP_SHIPPING_METHODS
    cost = FaqEntry.objects.get(question="How much does shipping cost?").answer
    points = FaqEntry.objects.get(question="How do loyalty points work?").answer

    for amount in (methods["standard"]["price"], methods["standard"]["free_over"], methods["express"]["price"]):
        assert str(Money.of(Decimal(amount))) in cost
    rules = program.current().program
    assert f"{rules.redeem_rate} points are worth {Money.of(1)}" in points
    assert f"earn {rules.earn_rate.normalize()} points" in points


def test_a_year_of_conversations_from_guests_and_customers_with_both_sides(seeded):
    conversations = Conversation.objects.all()
    started = sorted(conversations.values_list("started_at", flat=True))
    now = timezone.now()

    assert conversations.count() >= 250
    assert conversations.filter(user=None).exists() and conversations.exclude(user=None).exists()
    assert started[-1] <= now and started[-1] - started[0] > dt.timedelta(days=300)
    roles = set(Turn.objects.values_list("role", flat=True))
    assert roles == {Turn.Role.SHOPPER, Turn.Role.ASSISTANT, Turn.Role.STAFF}
    shoppers = Turn.objects.filter(role=Turn.Role.SHOPPER)
    assert shoppers.count() == Turn.objects.filter(role=Turn.Role.ASSISTANT).count()
    assert {Intent.SEARCH, Intent.REFINE, Intent.FAQ, Intent.TRACK_ORDER, Intent.POINTS, Intent.HUMAN} <= set(
        shoppers.values_list("intent", flat=True)
    )
    for conversation in conversations.prefetch_related("turns")[:50]:
        times = [t.created_at for t in conversation.turns.all()]
        assert times == sorted(times)
        assert conversation.started_at <= times[0] and times[-1] <= conversation.updated_at


def test_the_panel_shows_plausible_figures(seeded):
    now = timezone.now()
    figures = summary(now - dt.timedelta(days=366), now + dt.timedelta(days=1))

    assert figures["conversations"] == Conversation.objects.count()
    assert len(figures["days"]) > 100
    assert figures["messages"] > 2 * figures["conversations"]
    assert 0.02 < figures["fallback_rate"] < 0.3
    assert 0.01 < figures["handover_rate"] < 0.1
    assert 10 < figures["orders_after_chat"] < figures["conversations"]


def test_hand_overs_are_tickets_some_answered_by_staff_some_waiting(seeded):
    answered = Ticket.objects.filter(status=Ticket.Status.ANSWERED).select_related("answered_by", "conversation")
    waiting = Ticket.objects.filter(status=Ticket.Status.OPEN)

    assert answered.exists() and waiting.exists()
    assert Ticket.objects.count() == Conversation.objects.filter(handed_over=True).count()
    for ticket in answered:
        assert ticket.answered_by.is_staff and ticket.answer
        assert ticket.opened_at < ticket.answered_at <= timezone.now()
        staff = ticket.conversation.turns.get(role=Turn.Role.STAFF)
        assert (staff.text, staff.created_at) == (ticket.answer, ticket.answered_at)
        if ticket.email:
            assert TicketEmail.objects.get(ticket=ticket).sent_at is not None
    assert not waiting.exclude(answer="").exists() and not waiting.exclude(answered_at=None).exists()
    assert max(waiting.values_list("opened_at", flat=True)) > max(answered.values_list("opened_at", flat=True))
