"""Writing the replayed histories: accounts (with their referral codes), ledger entries and the lots they
used, tier changes, reminders, and the orders paid partly with points."""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter

from loyalty.demo.common import ROWS, _historical
from loyalty.demo.points_orders import _points_put_on
from loyalty.demo.replay import Replay
from loyalty.models import REFERRAL_ALPHABET, Account, ExpiryNotice, LedgerEntry, LotUse, TierChange


def _write(replays: list[Replay]) -> Counter:
    _accounts(replays)
    # In time order across the batch, each member's own order kept for entries at the same moment.
    entries = [
        entry
        for _when, _member, _n, entry in sorted(
            (e.created_at, r.member.id, n, e) for r in replays for n, e in enumerate(r.entries)
        )
    ]
    LedgerEntry.objects.bulk_create(entries, batch_size=ROWS)
    if any(entry.pk is None for entry in entries):
        raise RuntimeError("The loyalty demo needs a database that returns ids from bulk inserts.")
    uses = [LotUse(entry_id=e.pk, lot_id=lot.pk, points=n) for r in replays for e, lot, n in r.uses]
    LotUse.objects.bulk_create(uses, batch_size=ROWS)
    changes = sorted((c for r in replays for c in r.changes), key=lambda c: (c.created_at, c.account_id))
    TierChange.objects.bulk_create(changes, batch_size=ROWS)
    notices = sorted((n for r in replays for n in r.notices), key=lambda n: (n.created_at, n.account_id))
    with _historical(ExpiryNotice):
        ExpiryNotice.objects.bulk_create(notices, batch_size=ROWS)
    spent = [order for r in replays for order in r.orders if order.spent is not None]
    _points_put_on(spent)
    return Counter(
        entries=len(entries),
        changes=len(changes),
        notices=len(notices),
        orders=len(spent),
        given_back=sum(1 for order in spent if order.paid_at is None),
    )


def _accounts(replays: list[Replay]) -> None:
    """Create the members' accounts as they joined, or bring existing ones to the replayed balance and tier."""
    existing = Account.objects.in_bulk([r.member.id for r in replays])
    new = {}
    for r in replays:
        account = existing.get(r.member.id)
        if account is None:
            account = new[r.member.email] = Account(user_id=r.member.id, created_at=r.joined)
        account.balance, account.tier, account.tier_since = r.balance, r.tier, r.tier_since
    _codes(new)
    with _historical(Account):
        Account.objects.bulk_create(list(new.values()), batch_size=ROWS)
    Account.objects.bulk_update(list(existing.values()), ["balance", "tier", "tier_since"], batch_size=ROWS)


def _codes(accounts: dict[str, Account]) -> None:
    """Referral codes fixed by the member's email (new_referral_code's alphabet), drawn again on a clash."""
    pending = dict(accounts)
    for attempt in itertools.count():
        if not pending:
            return
        for email, account in pending.items():
            account.referral_code = _code(f"{email}:{attempt}")
        drawn = Counter(a.referral_code for a in pending.values())
        taken = set(Account.objects.filter(referral_code__in=list(drawn)).values_list("referral_code", flat=True))
        pending = {k: a for k, a in pending.items() if a.referral_code in taken or drawn[a.referral_code] > 1}


def _code(text: str) -> str:
    value = int.from_bytes(hashlib.sha256(f"loyalty:referral:{text}".encode()).digest()[:8], "big")
    chars = []
    for _ in range(8):
        value, digit = divmod(value, len(REFERRAL_ALPHABET))
        chars.append(REFERRAL_ALPHABET[digit])
    return "".join(chars)
