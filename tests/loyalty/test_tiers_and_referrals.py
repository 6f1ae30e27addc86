"""Tiers from rolling spend; referrals with their welcome discount, reward and abuse rules; expiry reminders."""

import datetime as dt

import pytest
from django.utils import timezone

from loyalty import services
from loyalty.models import Account, ExpiryNotice, Kind, LedgerEntry, Reason, Referral, TierChange
from loyalty.program import current
from shop.core.errors import Conflict, NotFound, ShopError
from shop.core.money import Money
from shop.orders.checkout import ShippingAddress
from shop.orders.models import Order
from shop.orders.services import order_record_refund, orders_expire
from tests.factories import AddressFactory, UserFactory
from tests.loyalty.helpers import D, balance, cart_with, committed, give, ledger_sum, pay, place, rules

pytestmark = pytest.mark.django_db

OTHER_ADDRESS = ShippingAddress(name="Bo", line1="9 Elm Road", city="Leeds", postal_code="LS1 4AP", country="GB")


@pytest.fixture(autouse=True)
def _program():
    rules(earn_rate=D(1), pending_days=14, referral_points=500, referral_discount_percent=10, referral_monthly_cap=2)


def tier_of(user) -> str:
    account = Account.objects.select_related("tier").get(pk=user.pk)
    return account.tier.name if account.tier else ""


# --- tiers ----------------------------------------------------------------------------------------


def test_paying_past_a_threshold_moves_the_member_up_at_once_and_the_change_is_recorded():
    user = UserFactory()
    pay(place(user, cart_with(user, "100.00")))
    assert tier_of(user) == "Member"
    pay(place(user, cart_with(user, "200.00")))  # 300 in the window: Silver starts at 250

    assert tier_of(user) == "Silver"
    change = TierChange.objects.filter(account_id=user.pk).first()
    assert (change.from_name, change.to_name, change.is_upgrade, change.spend) == ("Member", "Silver", True, D("300"))


def test_the_tier_multiplier_applies_to_what_is_earned():
    user = UserFactory()
    pay(place(user, cart_with(user, "300.00")))  # earned at Member rate, then Silver
    order = pay(place(user, cart_with(user, "100.00")))

    assert LedgerEntry.objects.get(order=order, kind=Kind.EARN).points == 125  # 100 x 1 x 1.25


def test_spending_points_never_demotes_but_spend_leaving_the_window_does():
    rules(pending_days=0, min_redeem_points=100, redeem_rate=100)
    user = UserFactory()
    pay(place(user, cart_with(user, "300.00")))
    assert tier_of(user) == "Silver"
    cart = cart_with(user, "40.00")
    services.cart_points_set(cart=cart, user=user, points=300)
    place(user, cart)  # redeem: the tier stays
    assert tier_of(user) == "Silver"

    assert services.tiers_refresh(now=timezone.now() + dt.timedelta(days=366)) == 1
    assert tier_of(user) == "Member"
    assert TierChange.objects.filter(account_id=user.pk, is_upgrade=False).count() == 1


def test_a_refund_counts_against_the_spend():
    user = UserFactory()
    order = pay(place(user, cart_with(user, "300.00")))
    assert tier_of(user) == "Silver"

    with committed():
        order_record_refund(order_id=order.pk, amount=Money(D("100.00"), "USD"), reference="re_1")

    assert tier_of(user) == "Member"


# --- referrals ------------------------------------------------------------------------------------


@pytest.fixture
def advocate():
    user = UserFactory(email="ada@example.org")
    AddressFactory(user=user, line1="1 Main St", postal_code="78701", country="US")
    return user


def code_of(user) -> str:
    return services.account_get(user=user).referral_code


def test_a_referred_friend_gets_the_welcome_discount_on_a_first_order_and_the_advocate_points_when_paid(advocate):
    friend = UserFactory(email="bo@example.org")
    services.referral_attach(friend=friend, code=code_of(advocate).lower())

    order = place(friend, cart_with(friend, "60.00"), address=OTHER_ADDRESS)
    welcome = order.adjustments.get(source="loyalty-referral")
    assert welcome.amount == D("-6.00")
    assert order.total == D("54.00")  # free shipping over 50 still applies: 54 is merchandise
    pay(order)

    referral = Referral.objects.get(friend=friend)
    assert (referral.status, referral.welcome_order, referral.rewarded_order) == ("rewarded", order, order)
    reward = LedgerEntry.objects.get(account_id=advocate.pk, reason=Reason.REFERRAL)
    assert reward.points == 500 and reward.is_pending(timezone.now())
    assert reward.description == "Your friend b•••@example.org placed their first order"
    assert balance(advocate) == 500 == ledger_sum(advocate)
    # The discount was for the first order only.
    second = place(friend, cart_with(friend, "60.00"), address=OTHER_ADDRESS)
    assert not second.adjustments.filter(source="loyalty-referral").exists()


def test_an_unpaid_first_order_that_expires_frees_the_welcome_discount(advocate):
    friend = UserFactory()
    services.referral_attach(friend=friend, code=code_of(advocate))
    place(friend, cart_with(friend, "60.00"), address=OTHER_ADDRESS)
    assert services.welcome_referral(friend) is None  # taken by the unpaid order

    with committed():
        orders_expire(now=timezone.now() + dt.timedelta(days=1))

    assert services.welcome_referral(friend) is not None


def test_self_referral_and_unknown_codes_are_refused(advocate):
    with pytest.raises(ShopError, match="cannot refer yourself"):
        services.referral_attach(friend=advocate, code=code_of(advocate))
    with pytest.raises(NotFound):
        services.referral_attach(friend=UserFactory(), code="NOSUCH")
    assert not Referral.objects.exists()


def test_a_customer_is_referred_once_and_only_before_their_first_order(advocate):
    friend = UserFactory()
    services.referral_attach(friend=friend, code=code_of(advocate))
    with pytest.raises(Conflict, match="already referred"):
        services.referral_attach(friend=friend, code=code_of(UserFactory()))
    regular = UserFactory()
    pay(place(regular, cart_with(regular, "20.00")))
    with pytest.raises(Conflict, match="new customers"):
        services.referral_attach(friend=regular, code=code_of(advocate))


def test_the_same_person_under_another_email_gets_nothing(advocate):
    twin = UserFactory(email="Ada+shop@Example.org")
    referral = services.referral_attach(friend=twin, code=code_of(advocate))
    assert (referral.status, referral.refusal) == ("refused", "same_email")
    assert services.welcome_referral(twin) is None
    assert services.comparable_email("J.Doe+x@GoogleMail.com") == services.comparable_email("jdoe@gmail.com")


def test_no_reward_when_the_friend_ships_to_the_advocates_address(advocate):
    friend = UserFactory()
    services.referral_attach(friend=friend, code=code_of(advocate))
    same = ShippingAddress(name="Bo", line1="1 MAIN ST.", city="Austin", postal_code="78701", country="US")

    pay(place(friend, cart_with(friend, "60.00"), address=same))

    referral = Referral.objects.get(friend=friend)
    assert (referral.status, referral.refusal) == ("refused", "same_address")
    assert balance(advocate) == 0


def test_an_advocate_is_rewarded_at_most_the_monthly_cap(advocate):
    friends = [UserFactory() for _ in range(3)]
    for friend in friends:
        services.referral_attach(friend=friend, code=code_of(advocate))
        pay(place(friend, cart_with(friend, "30.00"), address=OTHER_ADDRESS))

    statuses = list(Referral.objects.order_by("created_at", "pk").values_list("status", flat=True))
    assert statuses == ["rewarded", "rewarded", "refused"]
    assert Referral.objects.get(status="refused").get_refusal_display() == "The advocate's monthly cap was reached"
    assert balance(advocate) == 1000


def test_a_fully_refunded_first_order_takes_the_advocates_reward_back(advocate):
    friend = UserFactory()
    services.referral_attach(friend=friend, code=code_of(advocate))
    order = pay(place(friend, cart_with(friend, "60.00"), address=OTHER_ADDRESS))
    assert balance(advocate) == 500

    with committed():
        order_record_refund(order_id=order.pk, amount=Money(order.total, "USD"), reference="re_all")
    services.order_points_settle(order_id=order.pk)  # twice: nothing more

    taken = LedgerEntry.objects.get(account_id=advocate.pk, kind=Kind.REVERSE)
    assert (taken.points, taken.reason) == (-500, Reason.REFERRAL)
    assert balance(advocate) == 0 == ledger_sum(advocate)


def test_the_welcome_discount_is_claimed_by_one_order_only(advocate):
    friend = UserFactory()
    services.referral_attach(friend=friend, code=code_of(advocate))
    first = place(friend, cart_with(friend, "60.00"), address=OTHER_ADDRESS)
    assert first.adjustments.filter(source="loyalty-referral").exists()
    with pytest.raises(Conflict, match="already used"):
        services.referral_welcome_claim(order=Order.objects.get(pk=first.pk), user=friend)


# --- expiry reminders -----------------------------------------------------------------------------


def test_members_are_told_once_before_points_expire(mailoutbox):
    rules(expiry_days=365, expiry_reminder_days=30)
    user = UserFactory(email="keen@example.org")
    give(user, 400, days_ago=350)  # expires in 15 days
    give(user, 100, days_ago=10)  # not soon

    with committed():
        assert services.expiry_notices_queue() == 1
    with committed():
        assert services.expiry_notices_queue() == 0

    notice = ExpiryNotice.objects.get()
    assert (notice.points, notice.sent_at is not None) == (400, True)
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["keen@example.org"]
    assert "400" in message.subject
    assert "/account/points/" in message.body
    assert "$4.00" in message.body


def test_no_reminder_when_the_program_sends_none():
    rules(expiry_reminder_days=0)
    give(UserFactory(), 400, days_ago=350)
    assert services.expiry_notices_queue() == 0


def test_the_program_rules_come_from_the_cache_until_staff_change_them():
    assert current().program.earn_rate == D(1)
    rules(earn_rate=D(3))
    assert current().program.earn_rate == D(3)


def test_a_reminder_announces_everything_it_covers_so_no_points_expire_unannounced(mailoutbox):
    rules(expiry_days=365, expiry_reminder_days=30)
    user = UserFactory()
    give(user, 100, days_ago=355)  # expires in 10 days
    give(user, 200, days_ago=320)  # in 45 days: beyond this reminder's period, within what it covers
    now = timezone.now()

    for day in range(0, 60, 1):  # the job, daily, for two months
        with committed():
            services.expiry_notices_queue(now=now + dt.timedelta(days=day))

    assert [n.points for n in ExpiryNotice.objects.order_by("created_at")] == [300]
    assert len(mailoutbox) == 1


def test_a_paused_program_leaves_a_referral_to_be_decided_later(advocate):
    friend = UserFactory()
    services.referral_attach(friend=friend, code=code_of(advocate))
    rules(is_active=False)

    pay(place(friend, cart_with(friend, "60.00"), address=OTHER_ADDRESS))

    assert Referral.objects.get(friend=friend).status == "pending"
    rules(is_active=True)
    assert services.orders_catch_up() == 1  # the sweep earns the friend's order and rewards the advocate
    assert Referral.objects.get(friend=friend).status == "rewarded"
    assert balance(advocate) == 500


def test_the_hourly_sweep_earns_for_a_paid_order_whose_task_never_ran():
    from shop.orders.services import order_mark_paid

    user = UserFactory()
    order = place(user, cart_with(user, "30.00"))
    order_mark_paid(order_id=order.pk, amount=Money(order.total, "USD"), reference="pi")  # no on_commit: no task

    assert balance(user) == 0
    assert services.orders_catch_up() == 1
    assert services.orders_catch_up() == 0
    assert balance(user) == 30 == ledger_sum(user)


def test_the_rules_refuse_points_that_would_expire_before_they_can_be_used():
    from django.core.exceptions import ValidationError

    program = rules(pending_days=30, expiry_days=20)
    with pytest.raises(ValidationError, match="expire after their pending period"):
        program.full_clean()
    program.expiry_days = 0  # never: fine
    program.full_clean()


def test_reminders_go_out_a_batch_of_members_at_a_time_once_each(mailoutbox):
    rules(expiry_days=365, expiry_reminder_days=30)
    users = [UserFactory() for _ in range(5)]
    for i, user in enumerate(users):
        give(user, 100 + i, days_ago=350)
    give(UserFactory(), 100, days_ago=10)  # nothing soon

    with committed():
        assert services.expiry_notices_queue(batch=2) == 5
    with committed():
        assert services.expiry_notices_queue(batch=2) == 0

    notices = {n.account_id: n.points for n in ExpiryNotice.objects.all()}
    assert notices == {user.pk: 100 + i for i, user in enumerate(users)}
    assert len(mailoutbox) == 5
