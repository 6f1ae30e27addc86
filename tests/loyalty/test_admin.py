"""The loyalty admin: rules, tiers, members and their adjustments, the read-only ledger, the overview."""

import csv
import datetime as dt
import io

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from loyalty import services
from loyalty.models import Account, ExpiryNotice, Kind, LedgerEntry, Program, Reason, Referral, Tier, TierChange
from loyalty.program import current
from tests.factories import UserFactory
from tests.loyalty.helpers import D, balance, cart_with, give, ledger_sum, pay, place, rules

pytestmark = pytest.mark.django_db

PROGRAM = {
    "is_active": True,
    "earn_rate": D(5),
    "redeem_rate": 100,
    "min_redeem_points": 500,
    "max_redeem_percent": 50,
    "pending_days": 14,
    "expiry_days": 365,
    "expiry_reminder_days": 30,
    "tier_window_days": 365,
    "signup_points": 100,
    "review_points": 50,
    "birthday_points": 200,
    "referral_points": 500,
    "referral_discount_percent": 10,
    "referral_discount_max": D(20),
    "referral_monthly_cap": 5,
}


@pytest.fixture(autouse=True)
def _program():
    rules(**PROGRAM)


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def make_tiers():
    """The tiers the migration seeds: Member (from 0, ×1), Silver (250, ×1.25), Gold (1,000, ×1.5)."""
    member, silver, gold = Tier.objects.order_by("min_spend")
    assert (member.name, silver.name, gold.name) == ("Member", "Silver", "Gold")
    return member, silver, gold


def populate(n: int) -> dict:
    """n of everything the pages list: members, a member's entries, tier changes, referrals, reminders."""
    make_tiers()
    subject = UserFactory(email="subject@example.org", first_name="Ada", last_name="Lovelace")
    for i in range(n):
        give(subject, 10 + i)
    account = Account.objects.get(pk=subject.pk)
    friends = [UserFactory() for _ in range(n)]
    for friend in friends:
        give(friend, 100, days_ago=350)  # expires in 15 days: a reminder is due
        services.referral_attach(friend=friend, code=account.referral_code)
    assert services.expiry_notices_queue() == n
    now = timezone.now()
    TierChange.objects.bulk_create(
        TierChange(account=account, from_name="Member", to_name="Silver", spend=D(250), is_upgrade=True, created_at=now)
        for _ in range(n)
    )
    return {
        "subject": subject,
        "entry": LedgerEntry.objects.filter(account=account).first(),
        "tier": Tier.objects.get(name="Silver"),
        "referral": Referral.objects.first(),
        "notice": ExpiryNotice.objects.first(),
    }


def page_url(name: str, world: dict) -> str:
    args = {
        "loyalty_program_change": [1],
        "loyalty_tier_change": [world["tier"].pk],
        "loyalty_account_change": [world["subject"].pk],
        "loyalty_account_adjust": [world["subject"].pk],
        "loyalty_ledgerentry_change": [world["entry"].pk],
        "loyalty_referral_change": [world["referral"].pk],
        "loyalty_expirynotice_change": [world["notice"].pk],
    }
    return reverse(f"admin:{name}", args=args.get(name, []))


# The same bound whether a page shows 3 rows or 30: no query per row.
PAGES = {
    "loyalty_program_change": 5,
    "loyalty_tier_changelist": 7,
    "loyalty_tier_change": 5,
    "loyalty_account_changelist": 9,
    "loyalty_account_change": 16,
    "loyalty_account_adjust": 8,
    "loyalty_account_overview": 7,
    "loyalty_ledgerentry_changelist": 9,
    "loyalty_ledgerentry_change": 8,
    "loyalty_referral_changelist": 9,
    "loyalty_referral_change": 7,
    "loyalty_expirynotice_changelist": 7,
    "loyalty_expirynotice_change": 7,
}


@pytest.mark.parametrize("n", [3, 30])
@pytest.mark.parametrize("name", PAGES)
def test_it_shows_every_page_to_staff_in_a_bounded_number_of_queries(
    admin_client, django_assert_max_num_queries, name, n
):
    world = populate(n)
    url = page_url(name, world)

    with django_assert_max_num_queries(PAGES[name]):
        response = admin_client.get(url)

    assert response.status_code == 200


@pytest.mark.parametrize(
    "name", ["loyalty_account_overview", "loyalty_account_changelist", "loyalty_ledgerentry_changelist"]
)
def test_it_sends_a_customer_to_the_login_page(client, customer, name):
    give(customer, 100)
    client.force_login(customer)

    response = client.get(reverse(f"admin:{name}"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_it_sends_a_customer_trying_to_adjust_to_the_login_page_and_writes_nothing(client, customer):
    give(customer, 100)
    client.force_login(customer)

    response = client.post(reverse("admin:loyalty_account_adjust", args=[customer.pk]), {"points": 5000, "note": "me"})

    assert response.status_code == 302
    assert balance(customer) == 100 == ledger_sum(customer)


# Program rules


def test_the_rules_list_opens_the_single_rules_form(admin_client):
    Program.objects.all().delete()

    response = admin_client.get(reverse("admin:loyalty_program_changelist"))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:loyalty_program_change", args=[1])
    assert Program.objects.get().pk == 1
    assert admin_client.get(reverse("admin:loyalty_program_add")).status_code == 403
    assert admin_client.get(reverse("admin:loyalty_program_delete", args=[1])).status_code == 403


def test_it_saves_the_rules_and_they_apply_at_once(admin_client):
    assert current().program.earn_rate == D(5)  # cached now: saving must drop it
    data = {**PROGRAM, "earn_rate": "7.50", "redeem_rate": "200", "expiry_days": "0", "is_active": "on"}

    response = admin_client.post(reverse("admin:loyalty_program_change", args=[1]), data)

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:loyalty_program_change", args=[1])
    program = Program.objects.get()
    assert (program.earn_rate, program.redeem_rate, program.expiry_days) == (D("7.50"), 200, 0)
    assert current().program.earn_rate == D("7.50")
    assert current().points_value(1000).amount == D("5.00")


def test_the_rules_form_shows_what_the_rules_mean_with_every_tier(admin_client):
    make_tiers()

    response = admin_client.get(reverse("admin:loyalty_program_change", args=[1]))

    page = response.content.decode()
    assert 'an order of $100.00 earns <strong data-live="earned">500</strong> points' in page
    assert "Silver ×1.25: <span" in page and ">625</span>" in page
    assert "Gold ×1.50: <span" in page and ">750</span>" in page
    assert '1,000 points take <strong data-live="value">$10.00</strong> off' in page
    for legend in ("Earning", "Redeeming", "Pending and expiry", "Tiers", "Rewards", "Referrals"):
        assert f">{legend}</h2>" in page


def test_an_invalid_rule_is_refused_and_nothing_changes(admin_client):
    data = {**PROGRAM, "max_redeem_percent": "150", "is_active": "on"}

    response = admin_client.post(reverse("admin:loyalty_program_change", args=[1]), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["max_redeem_percent"]
    assert Program.objects.get().max_redeem_percent == 50


# Tiers


def test_the_tiers_list_counts_members_and_edits_tiers_in_place(admin_client):
    member_tier, silver, gold = make_tiers()
    for user in [UserFactory(), UserFactory()]:
        Account.objects.create(user=user, tier=silver)

    response = admin_client.get(reverse("admin:loyalty_tier_changelist"))

    assert response.status_code == 200
    counts = {tier.name: tier.n_members for tier in response.context["cl"].result_list}
    assert counts == {"Member": 0, "Silver": 2, "Gold": 0}
    page = response.content.decode()
    assert "Place every member in their tier again" in page
    assert 'name="form-0-multiplier"' in page and 'name="form-0-perks"' in page


def test_placing_every_member_again_moves_them_in_the_background(admin_client):
    member_tier, silver, gold = make_tiers()
    wrong = [Account.objects.create(user=UserFactory(), tier=gold) for _ in range(2)]
    right = Account.objects.create(user=UserFactory(), tier=member_tier)

    response = admin_client.post(reverse("admin:loyalty_tier_reassign"), follow=True)

    assert response.status_code == 200
    assert "Every member is being placed in their tier again, in the background" in response.content.decode()
    for account in [*wrong, right]:
        account.refresh_from_db()
        assert account.tier == member_tier  # nobody has paid anything
    assert TierChange.objects.filter(from_name="Gold", to_name="Member").count() == 2


def test_placing_members_again_is_a_post(admin_client):
    make_tiers()
    account = Account.objects.create(user=UserFactory(), tier=Tier.objects.get(name="Gold"))

    assert admin_client.get(reverse("admin:loyalty_tier_reassign")).status_code == 405
    account.refresh_from_db()
    assert account.tier.name == "Gold"


# Members


def test_the_members_list_shows_balance_usable_points_value_and_totals(admin_client):
    rich, poor = UserFactory(email="rich@example.org"), UserFactory(email="poor@example.org")
    give(rich, 2000)
    services.reward(user_id=rich.pk, reason=Reason.SIGNUP, points=300, reference="signup", pending=True)
    give(poor, 50)

    response = admin_client.get(reverse("admin:loyalty_account_changelist"))

    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert [a.user.email for a in rows] == ["rich@example.org", "poor@example.org"]  # biggest balance first
    assert rows[0].balance == 2300 and rows[0].available == 2000 == services.available_points(user=rich)
    page = response.content.decode()
    assert "2,300" in page and "$23.00" in page
    assert "2 members · 2,350 points held, worth $23.50" in page


def test_the_members_list_searches_email_name_and_referral_code_and_filters_by_tier(admin_client):
    member_tier, silver, gold = make_tiers()
    ada = UserFactory(email="ada@example.org", first_name="Ada", last_name="Lovelace")
    bob = UserFactory(email="bob@example.org", first_name="Bob", last_name="Builder")
    ada_account = Account.objects.create(user=ada, tier=gold)
    Account.objects.create(user=bob, tier=member_tier)
    url = reverse("admin:loyalty_account_changelist")

    def emails(query):
        return {a.user.email for a in admin_client.get(url + query).context["cl"].result_list}

    assert emails("?q=ada@") == {"ada@example.org"}
    assert emails("?q=builder") == {"bob@example.org"}
    assert emails(f"?q={ada_account.referral_code.lower()}") == {"ada@example.org"}
    assert emails(f"?tier__id__exact={member_tier.pk}") == {"bob@example.org"}
    assert emails("?points=none") == {"ada@example.org", "bob@example.org"}
    assert "No tier" in admin_client.get(url).content.decode()


def test_members_cannot_be_added_deleted_or_edited_through_the_form(admin_client, customer):
    give(customer, 100)

    assert admin_client.get(reverse("admin:loyalty_account_add")).status_code == 403
    assert admin_client.post(reverse("admin:loyalty_account_delete", args=[customer.pk])).status_code == 403
    admin_client.post(reverse("admin:loyalty_account_change", args=[customer.pk]), {"balance": 9999})
    assert balance(customer) == 100 == ledger_sum(customer)


def test_the_member_page_shows_the_summary_the_latest_entries_tiers_and_referrals(admin_client):
    make_tiers()
    member = UserFactory(email="member@example.org")
    for i in range(35):
        give(member, 100 + i, note=f"goodwill {i}")
    account = Account.objects.get(pk=member.pk)
    services.tier_refresh(account=account)
    friend = UserFactory(email="friend@example.org")
    services.referral_attach(friend=friend, code=account.referral_code)

    response = admin_client.get(reverse("admin:loyalty_account_change", args=[member.pk]))

    assert response.status_code == 200
    assert response.context["summary"].balance == ledger_sum(member) == 35 * 100 + sum(range(35))
    assert len(response.context["entries"]) == 30
    page = response.content.decode()
    assert "The latest 30 of 35 entries, newest first." in page
    assert "goodwill 34" in page and "goodwill 4<" not in page  # newest first, oldest left out
    assert "Adjusted by our team: goodwill 34" in page
    ledger = reverse("admin:loyalty_ledgerentry_changelist") + f"?member={member.pk}"
    assert ledger in page
    assert "friend@example.org" in page and "Waiting for the friend&#x27;s first order" in page
    assert "Member</td>" in page
    assert reverse("admin:loyalty_account_adjust", args=[member.pk]) in page
    assert 'name="_save"' not in page  # a record: points change through adjustments


def test_the_full_ledger_link_lists_only_that_members_entries(admin_client):
    member, other = UserFactory(email="member@example.org"), UserFactory()
    give(member, 100)
    give(member, 200)
    give(other, 300)

    response = admin_client.get(reverse("admin:loyalty_ledgerentry_changelist") + f"?member={member.pk}")

    assert {e.account_id for e in response.context["cl"].result_list} == {member.pk}
    assert len(response.context["cl"].result_list) == 2
    assert "member@example.org" in response.content.decode()


# Adjusting points


def adjust(client, user, **data):
    return client.post(reverse("admin:loyalty_account_adjust", args=[user.pk]), data)


def test_adding_points_writes_one_adjustment_with_the_actor_and_the_note(admin_client, staff, customer):
    give(customer, 100)

    response = adjust(admin_client, customer, points=250, note="Parcel arrived late")

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:loyalty_account_change", args=[customer.pk])
    entry = LedgerEntry.objects.filter(account_id=customer.pk).order_by("-id").first()
    assert (entry.kind, entry.reason, entry.points, entry.actor, entry.note) == (
        Kind.ADJUST,
        Reason.STAFF,
        250,
        staff,
        "Parcel arrived late",
    )
    assert LedgerEntry.objects.filter(account_id=customer.pk).count() == 2
    assert balance(customer) == 350 == ledger_sum(customer)
    page = admin_client.get(response["Location"]).content.decode()
    assert "Added 250 points to owner@example.org; balance now 350." in page


def test_removing_points_moves_the_balance_down(admin_client, staff, customer):
    give(customer, 500)

    response = adjust(admin_client, customer, points=-200, note="Duplicate reward")

    assert response.status_code == 302
    entry = LedgerEntry.objects.filter(account_id=customer.pk).order_by("-id").first()
    assert (entry.kind, entry.points, entry.balance_after, entry.actor) == (Kind.ADJUST, -200, 300, staff)
    assert balance(customer) == 300 == ledger_sum(customer)


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"points": 100, "note": ""}, "note", "Say why: a note is required for every adjustment."),
        ({"points": 100, "note": "   "}, "note", "Say why: a note is required for every adjustment."),
        ({"points": 0, "note": "nothing"}, "points", "Enter a number of points other than zero."),
        ({"points": -101, "note": "too much"}, "points", "This member has 100 points; you cannot remove more."),
        ({"points": "ten", "note": "typo"}, "points", "Enter a whole number."),
    ],
)
def test_a_refused_adjustment_shows_why_with_400_and_writes_nothing(admin_client, customer, data, field, message):
    give(customer, 100)

    response = adjust(admin_client, customer, **data)

    assert response.status_code == 400
    assert message in response.context["form"].errors[field]
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert LedgerEntry.objects.filter(account_id=customer.pk).count() == 1
    assert balance(customer) == 100 == ledger_sum(customer)


def test_only_staff_who_may_change_members_can_adjust(client, customer):
    give(customer, 100)
    viewer = UserFactory(email="viewer@example.org", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_account", content_type__app_label="loyalty"))
    client.force_login(viewer)

    page = client.get(reverse("admin:loyalty_account_change", args=[customer.pk]))
    assert page.status_code == 200
    assert reverse("admin:loyalty_account_adjust", args=[customer.pk]) not in page.content.decode()
    assert client.get(reverse("admin:loyalty_account_adjust", args=[customer.pk])).status_code == 403
    assert adjust(client, customer, points=500, note="me").status_code == 403
    listing = client.get(reverse("admin:loyalty_account_changelist")).content.decode()
    assert "adjust_selected" not in listing
    bulk(client, [customer], apply="1", points=500, note="me")
    assert balance(customer) == 100 == ledger_sum(customer)


def test_the_adjust_form_shows_the_balance(admin_client, customer):
    give(customer, 1234)

    response = admin_client.get(reverse("admin:loyalty_account_adjust", args=[customer.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Balance: <strong>1,234</strong> points (1,234 usable now, 0 pending)." in page
    assert "Adjusted by our team:" in page  # the admin is told the customer reads the note


def bulk(client, users, **data):
    return client.post(
        reverse("admin:loyalty_account_changelist"),
        {"action": "adjust_selected", ACTION_CHECKBOX_NAME: [u.pk for u in users], **data},
    )


def test_the_bulk_adjustment_asks_for_points_and_a_note_first(admin_client, customer, stranger):
    give(customer, 100)
    give(stranger, 100)

    response = bulk(admin_client, [customer, stranger])

    assert response.status_code == 200
    page = response.content.decode()
    assert "One adjustment for each of these 2 members:" in page and "owner@example.org" in page
    assert LedgerEntry.objects.count() == 2


def test_the_bulk_adjustment_writes_one_entry_per_member_and_skips_who_holds_too_little(
    admin_client, staff, customer, stranger
):
    give(customer, 500)
    give(stranger, 100)

    response = bulk(admin_client, [customer, stranger], apply="1", points=-300, note="Promotion ran twice")

    assert response.status_code == 302
    entry = LedgerEntry.objects.filter(account_id=customer.pk).order_by("-id").first()
    assert (entry.kind, entry.points, entry.actor, entry.note) == (Kind.ADJUST, -300, staff, "Promotion ran twice")
    assert balance(customer) == 200 == ledger_sum(customer)
    assert balance(stranger) == 100 == ledger_sum(stranger)
    page = admin_client.get(response["Location"]).content.decode()
    assert "Removed 300 points from 1 member." in page
    assert "Skipped stranger@example.org: This member has 100 points; you cannot remove more." in page


def test_a_bulk_adjustment_without_a_note_writes_nothing(admin_client, customer):
    give(customer, 100)

    response = bulk(admin_client, [customer], apply="1", points=50, note="")

    assert response.status_code == 400
    assert "Say why: a note is required for every adjustment." in response.content.decode()
    assert balance(customer) == 100 == ledger_sum(customer)


# The ledger


def test_the_ledger_cannot_be_added_to_changed_or_deleted_through_the_admin(admin_client, customer):
    entry = give(customer, 100)
    change = reverse("admin:loyalty_ledgerentry_change", args=[entry.pk])

    assert admin_client.get(reverse("admin:loyalty_ledgerentry_add")).status_code == 403
    assert admin_client.post(change, {"points": 9999, "note": "x"}).status_code == 403
    assert admin_client.get(reverse("admin:loyalty_ledgerentry_delete", args=[entry.pk])).status_code == 403
    assert admin_client.post(reverse("admin:loyalty_ledgerentry_delete", args=[entry.pk])).status_code == 403
    listing = admin_client.get(reverse("admin:loyalty_ledgerentry_changelist")).content.decode()
    assert reverse("admin:loyalty_ledgerentry_add") not in listing
    assert "delete_selected" not in listing
    page = admin_client.get(change).content.decode()
    assert 'name="_save"' not in page and reverse("admin:loyalty_ledgerentry_delete", args=[entry.pk]) not in page
    entry.refresh_from_db()
    assert entry.points == 100 and LedgerEntry.objects.count() == 1


def test_the_ledger_filters_and_searches(admin_client, customer, stranger):
    give(customer, 100, note="late parcel")
    give(stranger, 200, note="goodwill")
    services.points_adjust(user=customer, points=-50, note="duplicate", actor=UserFactory(is_staff=True))
    url = reverse("admin:loyalty_ledgerentry_changelist")

    def points(query):
        return sorted(e.points for e in admin_client.get(url + query).context["cl"].result_list)

    assert points("?q=owner@example.org") == [-50, 100]
    assert points("?q=goodwill") == [200]
    assert points("?kind__exact=adjust&points__lt=0") == [-50]
    assert points(f"?reason__exact=staff&member={stranger.pk}") == [200]
    page = admin_client.get(url).content.decode()
    assert "+300 points added, −50 taken." in page
    for title in ("By kind", "By reason", "By date"):
        assert title in page


def test_the_ledger_shows_the_order_and_finds_it_by_number(admin_client, customer):
    rules(pending_days=0)
    order = pay(place(customer, cart_with(customer, "60.00")))
    give(UserFactory(), 100)

    response = admin_client.get(reverse("admin:loyalty_ledgerentry_changelist") + f"?q={order.number}")

    entries = list(response.context["cl"].result_list)
    assert [(e.kind, e.points) for e in entries] == [(Kind.EARN, 300)]
    page = response.content.decode()
    assert reverse("admin:orders_order_change", args=[order.pk]) in page
    assert f"Earned on order {order.number}" in page


def test_it_exports_the_selected_entries_to_csv(admin_client, staff, customer):
    first = give(customer, 100, note="=HYPERLINK(1)")
    second = services.points_adjust(user=customer, points=-40, note="fix", actor=staff)
    give(UserFactory(), 5)

    response = admin_client.post(
        reverse("admin:loyalty_ledgerentry_changelist"),
        {"action": "export_csv", ACTION_CHECKBOX_NAME: [first.pk, second.pk]},
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:5] == ["date", "member", "kind", "reason", "points"]
    assert [(r[1], r[2], r[4], r[5], r[9]) for r in rows[1:]] == [
        ("owner@example.org", "adjust", "100", "100", "'=HYPERLINK(1)"),  # a note is never run as a formula
        ("owner@example.org", "adjust", "-40", "60", "fix"),
    ]
    assert rows[2][10] == "staff@example.org"


# Referrals and reminders


def test_referrals_are_listed_read_only_and_filtered_by_status(admin_client, customer):
    advocate = Account.objects.get(pk=give(customer, 10).account_id)
    friend = UserFactory(email="friend@example.org")
    services.referral_attach(friend=friend, code=advocate.referral_code)
    url = reverse("admin:loyalty_referral_changelist")

    assert [r.friend.email for r in admin_client.get(url + "?status__exact=pending").context["cl"].result_list] == [
        "friend@example.org"
    ]
    assert not admin_client.get(url + "?status__exact=rewarded").context["cl"].result_list
    assert admin_client.get(url + "?q=friend@").context["cl"].result_count == 1
    assert admin_client.get(reverse("admin:loyalty_referral_add")).status_code == 403


def test_reminders_are_listed_read_only_and_filtered_by_sent(admin_client, customer):
    give(customer, 100, days_ago=350)
    services.expiry_notices_queue()
    url = reverse("admin:loyalty_expirynotice_changelist")

    assert admin_client.get(url + "?sent=no").context["cl"].result_count == 1
    assert admin_client.get(url + "?sent=yes").context["cl"].result_count == 0
    ExpiryNotice.objects.update(sent_at=timezone.now(), attempts=1)
    assert admin_client.get(url + "?sent=yes").context["cl"].result_count == 1
    assert admin_client.get(reverse("admin:loyalty_expirynotice_add")).status_code == 403


# The overview


def test_the_overview_shows_figures_that_match_the_ledger(admin_client, staff):
    member_tier, silver, gold = make_tiers()
    ada, bob = UserFactory(email="ada@example.org"), UserFactory(email="bob@example.org")
    give(ada, 1500)
    give(bob, 120, days_ago=400)  # earned more than 12 months ago, expired now
    services.points_expire()
    services.points_adjust(user=ada, points=-200, note="duplicate", actor=staff)
    services.cart_points_set(cart=(cart := cart_with(ada, "40.00")), user=ada, points=1000)
    order = pay(place(ada, cart))  # redeems 1,000; earns on the 30.00 left (pending)
    earned_on_order = LedgerEntry.objects.get(order=order, kind=Kind.EARN).points
    for account in Account.objects.all():
        services.tier_refresh(account=account)

    response = admin_client.get(reverse("admin:loyalty_account_overview"))

    assert response.status_code == 200
    outstanding = ledger_sum(ada) + ledger_sum(bob)
    assert outstanding == 1500 - 200 - 1000 + earned_on_order
    assert response.context["liability"]["points"] == outstanding
    this_month = response.context["months"][0]
    assert this_month["month"] == timezone.localdate().replace(day=1)
    assert (this_month["earned"], this_month["redeemed"], this_month["expired"], this_month["removed"]) == (
        1500 + earned_on_order,
        1000,
        120,
        200,
    )
    assert this_month["net"] == outstanding - 120  # bob's 120 were earned before the window
    assert len(response.context["months"]) == 12
    assert [(row["tier"], row["members"]) for row in response.context["tiers"]] == [
        (member_tier, 2),
        (silver, 0),
        (gold, 0),
    ]
    page = response.content.decode()
    assert f"{outstanding:,}" in page
    assert current().points_value(outstanding).format() in page
    assert f'<th scope="row">{timezone.localdate():%B %Y}</th>' in page
    assert f"{1500 + earned_on_order:,}" in page and "1,000" in page
    assert "<caption>" in page and 'scope="col"' in page


def test_the_overview_is_linked_from_the_app_and_the_members_list(admin_client):
    url = reverse("admin:loyalty_account_overview")

    assert url in admin_client.get(reverse("admin:app_list", args=["loyalty"])).content.decode()
    assert url in admin_client.get(reverse("admin:loyalty_account_changelist")).content.decode()
    assert url in admin_client.get(reverse("admin:loyalty_program_change", args=[1])).content.decode()


def test_the_overview_needs_no_data(admin_client):
    response = admin_client.get(reverse("admin:loyalty_account_overview"))

    assert response.status_code == 200
    assert response.context["liability"] == {"points": 0, "value": current().points_value(0), "members": 0}
    assert all(m["net"] == 0 for m in response.context["months"])


def test_overview_months_skip_nothing_at_a_year_boundary():
    from loyalty.admin import _last_months

    months = _last_months(12, timezone.make_aware(dt.datetime(2026, 2, 10)))

    assert months[0] == dt.date(2026, 2, 1) and months[1] == dt.date(2026, 1, 1) and months[2] == dt.date(2025, 12, 1)
    assert months[-1] == dt.date(2025, 3, 1) and len(set(months)) == 12
