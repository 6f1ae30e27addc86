"""The program's rules and tiers, read on every priced cart: cached, and dropped when staff save them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal

from django.conf import settings
from django.core.cache import cache
from django.utils.formats import number_format

from loyalty.models import Program, Tier
from shop.core import tokens
from shop.core.money import Money, decimal_places

CACHE_KEY = "loyalty:program:v1"
CACHE_SECONDS = 300


@dataclass(frozen=True)
class Rules:
    program: Program
    tiers: tuple[Tier, ...]  # by min_spend, lowest first

    # -- tiers ---------------------------------------------------------------------------------

    def tier_for(self, spend: Decimal) -> Tier | None:
        reached = [tier for tier in self.tiers if tier.min_spend <= spend]
        return reached[-1] if reached else None

    def next_tier(self, tier: Tier | None) -> Tier | None:
        above = [t for t in self.tiers if tier is None or t.min_spend > tier.min_spend]
        return above[0] if above else None

    def multiplier(self, tier_id: int | None) -> Decimal:
        for tier in self.tiers:
            if tier.pk == tier_id:
                return tier.multiplier
        return Decimal(1)

    # -- points and money ----------------------------------------------------------------------

    def points_value(self, points: int, currency: str | None = None) -> Money:
        """What points are worth, rounded down to the minor unit (a point never buys a fraction of a cent)."""
        currency = currency or settings.SHOP_CURRENCY
        exponent = Decimal(1).scaleb(-decimal_places(currency))
        value = (Decimal(points) / Decimal(self.program.redeem_rate)).quantize(exponent, rounding=ROUND_DOWN)
        return Money(value, currency)

    def points_cap(self, left_to_pay: Decimal, currency: str) -> Money:
        """The most points may pay: the program's share of the merchandise left to pay, rounded down.

        "At most 50%" of $31.95 is $15.975: points pay $15.97, never $15.98, so what they pay
        never exceeds the share stated.
        """
        exponent = Decimal(1).scaleb(-decimal_places(currency))
        share = left_to_pay * self.program.max_redeem_percent / 100
        return Money(max(share, Decimal(0)).quantize(exponent, rounding=ROUND_DOWN), currency)

    def points_for(self, amount: Money) -> int:
        """The fewest points that pay `amount` exactly (amount in minor units times the rate, rounded up)."""
        exact = amount.amount * self.program.redeem_rate
        return int(exact.to_integral_value(rounding=ROUND_CEILING))

    def earned_on(self, spent: Decimal, tier_id: int | None) -> int:
        """Points for money spent: rate × tier multiplier, rounded down to a whole point."""
        if spent <= 0:
            return 0
        return int((spent * self.program.earn_rate * self.multiplier(tier_id)).to_integral_value(rounding=ROUND_DOWN))


def grouped(points: int) -> str:
    """A number of points as the customer's locale writes it (1,500 / 1.500 / 1 500)."""
    return number_format(points, force_grouping=True)


TOKEN_KEY = "loyalty:rules:token"


def current() -> Rules:
    rules = cache.get(CACHE_KEY)
    if rules is None:
        program, _created = Program.objects.get_or_create(pk=1)
        rules = Rules(program=program, tiers=tuple(Tier.objects.order_by("min_spend")))
        cache.set(CACHE_KEY, rules, CACHE_SECONDS)
    return rules


def forget() -> None:
    """Called when the rules or tiers change (loyalty.receivers); carts priced under the old rules
    (shop.cart.snapshot, which depends on TOKEN_KEY) are out of date too."""
    cache.delete(CACHE_KEY)
    tokens.bump([TOKEN_KEY])
