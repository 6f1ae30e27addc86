"""Loyalty's part of a customer's data (shop/accounts/privacy.py, docs/privacy.md): the membership,
the points ledger and referrals. Erasing forfeits what is left of the points with a ledger entry
(the ledger is never edited) and retires the referral code."""

from django.utils.translation import gettext_lazy

from loyalty import services
from loyalty.models import Account, LedgerEntry, Referral, TierChange

ENTRY_FIELDS = ("kind", "reason", "points", "balance_after", "available_at", "expires_at")


class LoyaltyData:
    key = "loyalty"
    label = gettext_lazy("Loyalty points")
    erases = gettext_lazy("Your points (they are forfeited, pending ones too) and your referral code.")
    keeps = gettext_lazy("The history of the points, which our accounts need, with no name on it.")

    def export(self, user) -> dict:
        account = Account.objects.select_related("tier").filter(pk=user.pk).first()
        made = Referral.objects.filter(advocate=user).select_related("friend").order_by("created_at", "id")
        referred = Referral.objects.filter(friend=user).select_related("advocate").first()
        return {
            "account": None
            if account is None
            else {
                "balance": account.balance,
                "tier": account.tier.name if account.tier else None,
                "tier_since": account.tier_since,
                "referral_code": account.referral_code,
                "member_since": account.created_at,
            },
            "ledger": [
                {"at": entry.created_at, "description": str(entry.description), **_fields(entry)}
                for entry in LedgerEntry.objects.filter(account_id=user.pk)
                .select_related("order")
                .order_by("created_at", "id")
            ],
            "tier_changes": list(
                TierChange.objects.filter(account_id=user.pk)
                .order_by("created_at", "id")
                .values("created_at", "from_name", "to_name", "spend", "is_upgrade")
            ),
            # Friends are other people: only the masked address the ledger itself shows.
            "referrals_made": [
                {
                    "friend": services.masked_email(referral.friend.email),
                    "status": referral.status,
                    "joined": referral.created_at,
                    "decided": referral.decided_at,
                }
                for referral in made
            ],
            "referred_by": None
            if referred is None
            else {"advocate": services.masked_email(referred.advocate.email), "status": referred.status},
        }

    def erase(self, user) -> None:
        services.points_forfeit(user=user)
        services.referral_code_retire(user=user)
        services.expiry_notices_drop(user=user)


def _fields(entry: LedgerEntry) -> dict:
    return {
        **{name: getattr(entry, name) for name in ENTRY_FIELDS},
        "order": entry.order.number if entry.order_id else None,
    }
