"""Every change to points, tiers and referrals (docs/architecture.md, "Inside an app": writes live here).

The rules that make the ledger trustworthy:
* A balance changes only with its Account row locked (select_for_update), in the
  same transaction as the ledger entry that explains it; Account.balance is the
  ledger's sum and a check constraint keeps it at zero or more.
* Entries are only ever added. A negative entry takes its points from lots
  (positive entries) oldest expiry first and records which (LotUse).
* What happens to an order's points is decided in one place, order_points_settle:
  it compares what the order earned and redeemed with what its status and
  refunds say should be kept, and writes the difference. Running it again
  writes nothing, whatever the number of webhook deliveries or signals.

Split by subdomain: ledger (accounts, lots, entries, staff adjustments, expiry), earning (paid
orders, rewards), orders (redeeming at checkout; refunds and cancellations), tiers, referrals and
reminders. Callers use `from loyalty import services` and the names below.
"""

from loyalty.services.earning import (
    birthdays_reward,
    order_basis,
    order_points_earn,
    review_reward,
    review_reward_reverse,
    reward,
    signup_reward,
)
from loyalty.services.ledger import (
    CLOSED_UNPAID,
    Lot,
    NotEnoughPoints,
    account_get,
    available_points,
    due_accounts,
    due_lots,
    lots,
    points_adjust,
    points_expire,
    points_forfeit,
    points_share,
    take,
    undone_fraction,
    used_points,
)
from loyalty.services.orders import (
    cart_points_remove,
    cart_points_set,
    order_points_settle,
    orders_catch_up,
    points_redeem,
)
from loyalty.services.referrals import (
    advocate_addresses,
    comparable_address,
    comparable_email,
    masked_email,
    referral_attach,
    referral_code_retire,
    referral_reward,
    referral_welcome_claim,
    welcome_referral,
)
from loyalty.services.reminders import expiry_notices_drop, expiry_notices_queue
from loyalty.services.tiers import SPEND_STATES, spend_in_window, tier_refresh, tiers_reassign_all, tiers_refresh

__all__ = [
    "CLOSED_UNPAID",
    "SPEND_STATES",
    "Lot",
    "NotEnoughPoints",
    "account_get",
    "advocate_addresses",
    "available_points",
    "birthdays_reward",
    "cart_points_remove",
    "cart_points_set",
    "comparable_address",
    "comparable_email",
    "due_accounts",
    "due_lots",
    "expiry_notices_drop",
    "expiry_notices_queue",
    "lots",
    "masked_email",
    "order_basis",
    "order_points_earn",
    "order_points_settle",
    "orders_catch_up",
    "points_adjust",
    "points_expire",
    "points_forfeit",
    "points_redeem",
    "points_share",
    "referral_attach",
    "referral_code_retire",
    "referral_reward",
    "referral_welcome_claim",
    "review_reward",
    "review_reward_reverse",
    "reward",
    "signup_reward",
    "spend_in_window",
    "take",
    "tier_refresh",
    "tiers_reassign_all",
    "tiers_refresh",
    "undone_fraction",
    "used_points",
    "welcome_referral",
]
