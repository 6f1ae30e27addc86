"""Every write on the board (docs/adboard.md). Views, the API, the admin and tasks call these.

Races are settled by the database: a member's row is locked while their quota is counted; a
moderator's decision, a report crossing the threshold, renewal and expiry are conditional
updates on the ad's status, so two of them never both happen; a seller's rating is kept by
increments inside the transaction that writes the rating, never read, changed and written back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import statistics
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from marketing.adboard import cache, search, selectors
from marketing.adboard.models import (
    LINK,
    PHONE,
    Ad,
    AdCategory,
    AdField,
    AdPhoto,
    Conversation,
    Member,
    Message,
    Notice,
    PriceKind,
    Rating,
    Report,
    SavedAd,
    SavedSearch,
)
from shop.core.errors import Conflict, NotFound, ShopError
from shop.core.moderation import ReportReason
from shop.core.uploads import files_delete_on_commit


class Forbidden(ShopError):
    status_code = 403
    code = "permission_denied"


def _now():
    return timezone.now()


# -- members ----------------------------------------------------------------------------------


def member(user) -> Member:
    found, _created = Member.objects.get_or_create(user=user)
    return found


def _check_not_banned(user) -> None:
    if Member.objects.filter(user=user, banned_at__isnull=False).exists():
        raise Forbidden(_("Your account cannot post on the board. Contact the store if you think this is a mistake."))


def member_ban(user, *, reason: str = "") -> bool:
    """Ban a member from posting; their waiting ads are rejected. False if banned already."""
    with transaction.atomic():
        member(user)
        banned = Member.objects.filter(user=user, banned_at__isnull=True).update(
            banned_at=_now(), ban_reason=reason[:200]
        )
        if banned:
            Ad.objects.filter(owner=user, status=Ad.Status.PENDING).update(
                status=Ad.Status.REJECTED,
                rejection_reason=_("The account was banned from the board."),
                updated_at=_now(),
            )
    return bool(banned)


def member_unban(user) -> bool:
    return bool(Member.objects.filter(user=user, banned_at__isnull=False).update(banned_at=None, ban_reason=""))


def member_erase(user) -> None:
    """The customer's erasure (marketing/adboard/privacy.py, docs/privacy.md).

    Their ads are deleted as a seller deletes one (conversations about them stay readable to the
    other member, with the title), and lose what else they said: description, details, place and
    photos (files removed after commit). Messages they wrote keep their place in conversations
    with a neutral text instead of theirs; ratings they gave keep their stars (a seller's score
    stands on them) without the comment; comments on their reports are blanked; saved ads, saved
    searches and emails not sent yet go. The member's row, if any, is banned from posting; their
    name goes with the account's.
    """
    now = _now()
    with transaction.atomic():
        # Only a member's existing row: a customer who never used the board gets none now.
        Member.objects.filter(user=user, banned_at__isnull=True).update(banned_at=now)
        Member.objects.filter(user=user).update(ban_reason=_("The account was erased."))
        photos = list(AdPhoto.objects.filter(ad__owner=user))
        AdPhoto.objects.filter(pk__in=[photo.pk for photo in photos]).delete()
        files_delete_on_commit([f for photo in photos for f in (photo.image, photo.thumbnail)])
        Ad.objects.filter(owner=user).update(
            status=Ad.Status.DELETED,
            description="",
            details={},
            city="",
            region="",
            flags=[],
            photo_count=0,
            search_title="",
            search_body="",
            fingerprint="",
            updated_at=now,
        )
        Message.objects.filter(sender=user).update(body=_("This message was removed."))
        Rating.objects.filter(rater=user).update(comment="", updated_at=now)
        Report.objects.filter(reporter=user).exclude(comment="").update(comment="")
        SavedAd.objects.filter(user=user).delete()
        SavedSearch.objects.filter(user=user).delete()
        Notice.objects.filter(user=user, sent_at__isnull=True).delete()
        cache.changed()


# -- an ad's details ----------------------------------------------------------------------------


def details_clean(category: AdCategory, data: dict) -> dict:
    """The details a category asks for, checked and typed; ValidationError keyed by field key."""
    fields = selectors.fields_for(category)
    data = data or {}
    unknown = set(data) - {f.key for f in fields}
    errors: dict[str, list[str]] = {}
    for key in sorted(unknown):
        errors[key] = [_("This category has no detail called “%(key)s”.") % {"key": key}]
    clean: dict = {}
    for field in fields:
        raw = data.get(field.key)
        if raw in (None, "", []):
            if field.required:
                errors[field.key] = [_("%(label)s is required in this category.") % {"label": field.label}]
            continue
        try:
            clean[field.key] = _detail_value(field, raw)
        except ValidationError as error:
            errors[field.key] = error.messages
    if errors:
        raise ValidationError(errors)
    return clean


MAX_DETAIL_NUMBER = Decimal("1e15")


def _detail_value(field: AdField, raw):
    if field.kind == AdField.Kind.NUMBER:
        try:
            number = Decimal(str(raw).strip().replace(",", ""))
            # int() of "1e999999999" builds a billion-digit number: refuse anything that large first.
            if abs(number) >= MAX_DETAIL_NUMBER:
                raise ValueError
            value = int(number)
        except (ArithmeticError, ValueError):
            raise ValidationError(_("%(label)s must be a whole number.") % {"label": field.label}) from None
        if field.min_value is not None and value < field.min_value:
            raise ValidationError(_("%(label)s is at least %(n)d.") % {"label": field.label, "n": field.min_value})
        if field.max_value is not None and value > field.max_value:
            raise ValidationError(_("%(label)s is at most %(n)d.") % {"label": field.label, "n": field.max_value})
        return value
    if field.kind == AdField.Kind.CHOICE:
        value = str(raw).strip()
        if value not in field.choices:
            raise ValidationError(
                _("Choose one of: %(choices)s.") % {"choices": ", ".join(str(c) for c in field.choices)}
            )
        return value
    if field.kind == AdField.Kind.YES_NO:
        if isinstance(raw, bool):
            return raw
        value = str(raw).strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise ValidationError(_("Answer yes or no."))
    value = str(raw).strip()
    if len(value) > 80:
        raise ValidationError(_("Keep it under 80 characters."))
    return value


def _price_clean(price_kind: str, price) -> Decimal | None:
    if price_kind == PriceKind.FREE:
        return None
    if price in (None, ""):
        if price_kind == PriceKind.FIXED:
            raise ValidationError({"price": [_("Give a price, or choose “Free” or “Negotiable”.")]})
        return None
    try:
        amount = Decimal(str(price))
    except ArithmeticError:
        raise ValidationError({"price": [_("Give the price as a number, e.g. 120 or 99.50.")]}) from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e10"):
        raise ValidationError({"price": [_("Give a price between 0 and 9,999,999,999.")]})
    return amount.quantize(Decimal("0.01"))


# -- automatic flags ----------------------------------------------------------------------------


def fingerprint(title: str, description: str) -> str:
    text = " ".join(search.words(f"{title} {description}"))
    return hashlib.sha256(text.encode()).hexdigest()


def flags_for(ad: Ad) -> list[str]:
    """What a moderator should look at: contact details in the title, a price far from the
    category's usual range, the member's own text posted twice, too many ads too fast."""
    flags = []
    if PHONE.search(ad.title):
        flags.append("phone_in_title")
    if LINK.search(ad.title):
        flags.append("link_in_title")
    if ad.price is not None and ad.price > 0:
        prices = list(
            Ad.objects.public()
            .filter(category=ad.category, price__gt=0)
            .exclude(pk=ad.pk)
            .order_by("-published_at")
            .values_list("price", flat=True)[:200]
        )
        if len(prices) >= settings.ADBOARD_PRICE_SAMPLE:
            median = statistics.median(prices)
            if ad.price > median * settings.ADBOARD_PRICE_FACTOR or ad.price < median / settings.ADBOARD_PRICE_FACTOR:
                flags.append("unusual_price")
    duplicates = Ad.objects.filter(owner=ad.owner, fingerprint=ad.fingerprint).exclude(pk=ad.pk)
    if duplicates.exclude(status=Ad.Status.DELETED).exists():
        flags.append("duplicate_text")
    per_hour, _seconds = settings.ADBOARD_ADS_PER_HOUR
    if Ad.objects.filter(owner=ad.owner, created_at__gte=_now() - dt.timedelta(hours=1)).count() > per_hour:
        flags.append("too_fast")
    return flags


FLAG_LABELS = {
    "phone_in_title": "phone number in the title",
    "link_in_title": "link in the title",
    "unusual_price": "price far from the category's usual range",
    "duplicate_text": "same text as another of the member's ads",
    "too_fast": "many ads in the last hour",
}


# -- posting ------------------------------------------------------------------------------------


def _index(ad: Ad) -> None:
    ad.search_title, ad.search_body = search.index_texts(ad)
    ad.fingerprint = fingerprint(ad.title, ad.description)


def _submit(ad: Ad) -> None:
    """After a create or an edit: flagged ads, and every ad under pre-moderation, wait for a moderator."""
    ad.flags = flags_for(ad)
    if settings.ADBOARD_PREMODERATION or ad.flags:
        ad.status = Ad.Status.PENDING
    else:
        _publish_fields(ad)


def _publish_fields(ad: Ad) -> None:
    now = _now()
    ad.status = Ad.Status.PUBLISHED
    ad.published_at = ad.published_at or now
    if ad.expires_at is None or ad.expires_at <= now:
        ad.expires_at = now + dt.timedelta(days=settings.ADBOARD_AD_DAYS)
        ad.reminded_at = None


def _check_quota(user, *, adding: int = 1) -> None:
    """Counted with the member's row locked, so two posts at once cannot both pass the last place."""
    Member.objects.select_for_update().filter(user=user).first()
    active = Ad.objects.filter(owner=user, status__in=Ad.ACTIVE).count()
    quota = settings.ADBOARD_MAX_ACTIVE_ADS
    if active + adding > quota:
        raise Conflict(
            ngettext(
                "You have %(n)d active ad, the most a member can have: mark one sold or delete one first.",
                "You have %(n)d active ads, the most a member can have: mark one sold or delete one first.",
                active,
            )
            % {"n": active}
        )


def _add_photos(ad: Ad, photos, *, start: int = 0) -> None:
    for i, picture in enumerate(photos, start=start):
        AdPhoto.objects.create(ad=ad, image=picture.image, thumbnail=picture.thumbnail, position=i)


def ad_create(
    owner,
    *,
    category: AdCategory,
    title: str,
    description: str,
    price=None,
    price_kind: str = PriceKind.FIXED,
    condition: str,
    city: str,
    region: str,
    details: dict | None = None,
    photos=(),
) -> Ad:
    """Post an ad: 1 to ADBOARD_MAX_PHOTOS clean pictures (shop.core.uploads), details checked
    against the category's fields. Waits for a moderator (pre-moderation, or a flag)."""
    if not category.is_active or AdCategory.objects.filter(parent=category).exists():
        raise ValidationError({"category": [_("Choose the most precise category (e.g. Vehicles › Cars).")]})
    photos = list(photos)
    if not 1 <= len(photos) <= settings.ADBOARD_MAX_PHOTOS:
        raise ValidationError({"photos": [_("Add 1 to %(n)d photos.") % {"n": settings.ADBOARD_MAX_PHOTOS}]})
    ad = Ad(
        owner=owner,
        category=category,
        title=title.strip(),
        description=description.strip(),
        price_kind=price_kind,
        price=_price_clean(price_kind, price),
        currency=settings.SHOP_CURRENCY,
        condition=condition,
        city=city.strip(),
        region=region.strip(),
        details=details_clean(category, details or {}),
        photo_count=len(photos),
    )
    ad.full_clean(exclude=["owner", "details", "flags", "search_title", "search_body", "fingerprint"])
    with transaction.atomic():
        member(owner)
        _check_not_banned(owner)
        _check_quota(owner)
        _index(ad)
        _submit(ad)
        ad.save()
        _add_photos(ad, photos)
        if ad.status == Ad.Status.PUBLISHED:
            cache.changed()
    return ad


EDITABLE = {"category", "title", "description", "price", "price_kind", "condition", "city", "region", "details"}


def _own(ad: Ad, user) -> None:
    if ad.owner_id != user.pk:
        raise Forbidden(_("Only the seller can change this ad."))
    if ad.status == Ad.Status.DELETED:
        raise NotFound(_("This ad was deleted."))


def ad_update(ad: Ad, user, *, photos_add=(), photos_remove=(), **changes) -> Ad:
    """The seller edits their ad; it is checked again (and waits for a moderator again under
    pre-moderation). A rejected ad, edited, goes back to the queue."""
    _own(ad, user)
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValidationError({name: [_("This cannot be changed.")] for name in unknown})
    if ad.status in (Ad.Status.SOLD, Ad.Status.EXPIRED):
        raise Conflict(_("A sold or expired ad cannot be edited; renew it first."))
    with transaction.atomic():
        ad = Ad.objects.select_for_update().get(pk=ad.pk)
        _check_not_banned(user)
        for name, value in changes.items():
            if name in ("title", "description", "city", "region") and isinstance(value, str):
                value = value.strip()
            setattr(ad, name, value)
        if "category" in changes and AdCategory.objects.filter(parent=ad.category).exists():
            raise ValidationError({"category": [_("Choose the most precise category (e.g. Vehicles › Cars).")]})
        ad.price = _price_clean(
            ad.price_kind, ad.price if "price" in changes or ad.price_kind != PriceKind.FREE else None
        )
        ad.details = details_clean(ad.category, ad.details)
        remove = set(photos_remove)
        kept = [p for p in ad.photos.all() if p.pk not in remove]
        count = len(kept) + len(list(photos_add))
        if not 1 <= count <= settings.ADBOARD_MAX_PHOTOS:
            raise ValidationError({"photos": [_("An ad has 1 to %(n)d photos.") % {"n": settings.ADBOARD_MAX_PHOTOS}]})
        ad.full_clean(exclude=["owner", "details", "flags", "search_title", "search_body", "fingerprint"])
        AdPhoto.objects.filter(ad=ad, pk__in=remove).delete()
        for i, photo in enumerate(kept):
            if photo.position != i:
                AdPhoto.objects.filter(pk=photo.pk).update(position=i)
        _add_photos(ad, photos_add, start=len(kept))
        ad.photo_count = count
        _index(ad)
        was = ad.status
        if was in (Ad.Status.PUBLISHED, Ad.Status.PENDING, Ad.Status.REJECTED):
            _submit(ad)
        if was == Ad.Status.REJECTED and ad.status == Ad.Status.PENDING:
            ad.rejection_reason = ""
        ad.updated_at = _now()
        ad.save()
        cache.changed()
    return ad


def ad_mark_sold(ad: Ad, user) -> Ad:
    _own(ad, user)
    done = Ad.objects.filter(pk=ad.pk, status__in=Ad.ACTIVE).update(status=Ad.Status.SOLD, updated_at=_now())
    if not done:
        raise Conflict(_("Only an active ad can be marked sold."))
    cache.changed()
    ad.refresh_from_db()
    return ad


def ad_delete(ad: Ad, user) -> None:
    """The seller deletes their ad: gone from everywhere; conversations about it stay readable."""
    _own(ad, user)
    gone = Ad.objects.filter(pk=ad.pk).exclude(status=Ad.Status.DELETED)
    if gone.update(status=Ad.Status.DELETED, updated_at=_now()):
        cache.changed()


def ad_renew(ad: Ad, user) -> Ad:
    """One click: an expired ad (or one close to expiring) is published for another period.
    An ad a moderator approved once is not reviewed again; the quota still counts."""
    _own(ad, user)
    now = _now()
    soon = now + dt.timedelta(days=settings.ADBOARD_REMINDER_DAYS)
    with transaction.atomic():
        if ad.status == Ad.Status.EXPIRED or (
            ad.status == Ad.Status.PUBLISHED and ad.expires_at and ad.expires_at <= now
        ):
            _check_quota(user)
        renewed = (
            Ad.objects.filter(pk=ad.pk)
            .filter(Q(status=Ad.Status.EXPIRED) | Q(status=Ad.Status.PUBLISHED, expires_at__lte=soon))
            .update(
                status=Ad.Status.PUBLISHED,
                expires_at=now + dt.timedelta(days=settings.ADBOARD_AD_DAYS),
                reminded_at=None,
                updated_at=now,
            )
        )
    if renewed:
        cache.changed()
    if not renewed:
        raise Conflict(
            _("Only an expired ad, or one expiring within %(n)d days, can be renewed.")
            % {"n": settings.ADBOARD_REMINDER_DAYS}
        )
    ad.refresh_from_db()
    return ad


# -- moderation -------------------------------------------------------------------------------


def ad_approve(ad: Ad, *, moderator=None) -> bool:
    """Pending or hidden → published. False when someone else decided first."""
    now = _now()
    with transaction.atomic():
        done = Ad.objects.filter(pk=ad.pk, status__in=[Ad.Status.PENDING, Ad.Status.HIDDEN]).update(
            status=Ad.Status.PUBLISHED,
            rejection_reason="",
            flags=[],
            updated_at=now,
        )
        if done:
            Ad.objects.filter(pk=ad.pk, published_at__isnull=True).update(published_at=now)
            Ad.objects.filter(pk=ad.pk).filter(Q(expires_at__isnull=True) | Q(expires_at__lte=now)).update(
                expires_at=now + dt.timedelta(days=settings.ADBOARD_AD_DAYS), reminded_at=None
            )
            Report.objects.filter(ad=ad, resolved_at__isnull=True).update(resolved_at=now)
            cache.changed()
            Notice.objects.get_or_create(
                key=f"published:{ad.pk}:{now.timestamp():.0f}",
                defaults={"kind": Notice.Kind.PUBLISHED, "user_id": ad.owner_id, "data": {"ad": ad.pk}},
            )
            _notify_after_commit()
    return bool(done)


def ad_reject(ad: Ad, *, reason: str, moderator=None) -> bool:
    """Pending or hidden (or published) → rejected with a reason the seller sees and can fix."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Tell the seller why, so they can fix the ad.")]})
    now = _now()
    with transaction.atomic():
        done = Ad.objects.filter(
            pk=ad.pk, status__in=[Ad.Status.PENDING, Ad.Status.HIDDEN, Ad.Status.PUBLISHED]
        ).update(status=Ad.Status.REJECTED, rejection_reason=reason, updated_at=now)
        if done:
            Report.objects.filter(ad=ad, resolved_at__isnull=True).update(resolved_at=now)
            cache.changed()
            Notice.objects.get_or_create(
                key=f"rejected:{ad.pk}:{now.timestamp():.0f}",
                defaults={
                    "kind": Notice.Kind.REJECTED,
                    "user_id": ad.owner_id,
                    "data": {"ad": ad.pk, "reason": reason},
                },
            )
            _notify_after_commit()
    return bool(done)


# -- expiry -------------------------------------------------------------------------------------


def ads_expire() -> int:
    """Scheduled: published ads past their date become expired (lists already leave them out)."""
    expired = Ad.objects.filter(status=Ad.Status.PUBLISHED, expires_at__lte=_now()).update(
        status=Ad.Status.EXPIRED, updated_at=_now()
    )
    if expired:
        cache.changed()
    return expired


def ads_remind() -> int:
    """Scheduled: a reminder, once per period, for published ads expiring within ADBOARD_REMINDER_DAYS."""
    now = _now()
    due = Ad.objects.filter(
        status=Ad.Status.PUBLISHED,
        reminded_at__isnull=True,
        expires_at__gt=now,
        expires_at__lte=now + dt.timedelta(days=settings.ADBOARD_REMINDER_DAYS),
    ).values_list("pk", "owner_id", "expires_at")[:500]
    sent = 0
    for pk, owner_id, expires_at in due:
        with transaction.atomic():
            claimed = Ad.objects.filter(pk=pk, reminded_at__isnull=True).update(reminded_at=now)
            if claimed:
                Notice.objects.get_or_create(
                    key=f"expiry:{pk}:{expires_at.date().isoformat()}",
                    defaults={"kind": Notice.Kind.EXPIRY, "user_id": owner_id, "data": {"ad": pk}},
                )
                sent += 1
    if sent:
        _notify_after_commit()
    return sent


# -- saving -------------------------------------------------------------------------------------


def ad_save(ad: Ad, user) -> bool:
    if not Ad.objects.public().filter(pk=ad.pk).exists():
        raise NotFound(_("This ad is not on the board."))
    _obj, created = SavedAd.objects.get_or_create(user=user, ad=ad)
    return created


def ad_unsave(ad: Ad, user) -> bool:
    return bool(SavedAd.objects.filter(user=user, ad=ad).delete()[0])


def search_save(user, *, query: str, name: str = "", alerts: bool = True) -> SavedSearch:
    normal = search.Filters.parse_query(query).query_string()
    if SavedSearch.objects.filter(user=user).count() >= settings.ADBOARD_MAX_SAVED_SEARCHES:
        raise Conflict(_("You can keep %(n)d searches: delete one first.") % {"n": settings.ADBOARD_MAX_SAVED_SEARCHES})
    found, created = SavedSearch.objects.get_or_create(
        user=user,
        query=normal,
        defaults={"name": (name or search.Filters.parse_query(normal).describe())[:120], "alerts": alerts},
    )
    if not created and found.alerts != alerts:
        SavedSearch.objects.filter(pk=found.pk).update(alerts=alerts)
        found.alerts = alerts
    return found


def search_delete(saved: SavedSearch, user) -> None:
    if saved.user_id != user.pk:
        raise NotFound(_("No such saved search."))
    saved.delete()


def saved_search_alerts(*, limit: int = 500) -> int:
    """Scheduled: for each saved search with alerts, the public ads published since it was last
    looked at; one email listing them (at most 10), then the search is marked looked at."""
    now = _now()
    written = 0
    due = SavedSearch.objects.filter(alerts=True, checked_at__lt=now).order_by("checked_at")[:limit]
    for saved in due:
        filters = search.Filters.parse_query(saved.query)
        new = list(
            search.apply(filters, Ad.objects.public())
            .filter(published_at__gt=saved.checked_at, published_at__lte=now)
            .exclude(owner_id=saved.user_id)
            .order_by("-published_at")
            .values_list("pk", flat=True)[:10]
        )
        with transaction.atomic():
            claimed = SavedSearch.objects.filter(pk=saved.pk, checked_at=saved.checked_at).update(checked_at=now)
            if claimed and new:
                Notice.objects.get_or_create(
                    key=f"search:{saved.pk}:{now.timestamp():.0f}",
                    defaults={
                        "kind": Notice.Kind.SAVED_SEARCH,
                        "user_id": saved.user_id,
                        "data": {"search": saved.pk, "name": saved.name, "ads": new},
                    },
                )
                written += 1
    if written:
        _notify_after_commit()
    return written


# -- messages ---------------------------------------------------------------------------------


def _check_message_rate(user) -> None:
    from shop.core import ratelimit
    from shop.core.errors import RateLimited

    limit, period = settings.ADBOARD_MESSAGES_PER_HOUR
    if ratelimit.record_attempt(f"board-msg:{user.pk}", period=period) > limit:
        raise RateLimited(_("You have sent many messages in a short time; wait a while and try again."))


def _clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": [_("Write a message.")]})
    if len(body) > 2000:
        raise ValidationError({"body": [_("Keep a message under 2,000 characters.")]})
    return body


def contact(ad: Ad, buyer, body: str) -> Message:
    """A member writes to a seller about a public ad: the conversation is made once per ad and buyer."""
    body = _clean_body(body)
    if ad.owner_id == buyer.pk:
        raise Conflict(_("This is your own ad."))
    if not Ad.objects.public().filter(pk=ad.pk).exists():
        raise NotFound(_("This ad is not on the board."))
    _check_not_banned(buyer)
    _check_message_rate(buyer)
    with transaction.atomic():
        conversation, _created = Conversation.objects.get_or_create(
            ad=ad, buyer=buyer, defaults={"seller_id": ad.owner_id}
        )
        return _write(conversation, buyer, body)


def reply(conversation: Conversation, sender, body: str) -> Message:
    body = _clean_body(body)
    if sender.pk not in (conversation.buyer_id, conversation.seller_id):
        raise NotFound(_("No such conversation."))
    _check_not_banned(sender)
    _check_message_rate(sender)
    with transaction.atomic():
        return _write(conversation, sender, body)


def _write(conversation: Conversation, sender, body: str) -> Message:
    # Read again under a lock: the read times decide whether the other member gets an email.
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    now = _now()
    message = Message.objects.create(conversation=conversation, sender=sender, body=body, created_at=now)
    read = "buyer_read_at" if sender.pk == conversation.buyer_id else "seller_read_at"
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=now, **{read: now})
    recipient = conversation.seller_id if sender.pk == conversation.buyer_id else conversation.buyer_id
    # One email per conversation while it is unread: later messages do not send more.
    Notice.objects.get_or_create(
        key=f"message:{conversation.pk}:{recipient}:{_unread_since(conversation, recipient)}",
        defaults={
            "kind": Notice.Kind.MESSAGE,
            "user_id": recipient,
            "data": {"conversation": conversation.pk, "message": message.pk},
        },
    )
    _notify_after_commit()
    return message


def _unread_since(conversation: Conversation, user_id: int) -> str:
    read = conversation.buyer_read_at if user_id == conversation.buyer_id else conversation.seller_read_at
    return f"{read.timestamp():.0f}" if read else "0"


def conversation_read(conversation: Conversation, user) -> None:
    field = "buyer_read_at" if user.pk == conversation.buyer_id else "seller_read_at"
    if user.pk in (conversation.buyer_id, conversation.seller_id):
        Conversation.objects.filter(pk=conversation.pk).update(**{field: _now()})


# -- ratings --------------------------------------------------------------------------------------


def bayesian(count, total):
    """The shown rating: the seller's stars pulled toward the prior by `weight` imaginary
    ratings of `mean` (ADBOARD_RATING_PRIOR). Works on numbers and on database expressions."""
    weight, mean = settings.ADBOARD_RATING_PRIOR
    prior = Decimal(weight) * Decimal(str(mean))
    return (total + prior) / (count + weight)


def can_rate(rater, seller) -> bool:
    """A member who wrote to the seller about one of their ads."""
    return (
        rater.pk != seller.pk
        and Message.objects.filter(conversation__buyer=rater, conversation__seller=seller, sender=rater).exists()
    )


def _member_add(seller_id: int, *, count: int, stars: int) -> None:
    """Change a seller's rating by increments; the score is recomputed in the same statement."""
    Member.objects.get_or_create(user_id=seller_id)
    weight, mean = settings.ADBOARD_RATING_PRIOR
    new_count = F("rating_count") + count
    new_sum = F("rating_sum") + stars
    Member.objects.filter(user_id=seller_id).update(
        rating_count=new_count,
        rating_sum=new_sum,
        rating_score=(new_sum + Decimal(weight) * Decimal(str(mean))) * Decimal("1.0") / (new_count + weight),
    )
    cache.changed()  # the seller's rating is on their ads' cards


def rating_set(seller, rater, *, stars: int, comment: str = "", ad: Ad | None = None) -> tuple[Rating, bool]:
    """Rate a seller (once per pair; a second call edits). Returns (rating, created)."""
    try:
        stars = int(stars)
    except (TypeError, ValueError):
        stars = 0
    if not 1 <= stars <= 5:
        raise ValidationError({"stars": [_("Give 1 to 5 stars.")]})
    comment = (comment or "").strip()
    if len(comment) > 1000:
        raise ValidationError({"comment": [_("Keep the comment under 1,000 characters.")]})
    if not can_rate(rater, seller):
        raise Forbidden(_("You can rate a seller after writing to them about one of their ads."))
    _check_not_banned(rater)
    if ad is not None and ad.owner_id != seller.pk:
        ad = None
    with transaction.atomic():
        existing = Rating.objects.select_for_update().filter(seller=seller, rater=rater).first()
        if existing is None:
            try:
                with transaction.atomic():
                    rating = Rating.objects.create(seller=seller, rater=rater, stars=stars, comment=comment, ad=ad)
            except IntegrityError:
                raise Conflict(_("You have already rated this seller; edit your rating instead.")) from None
            _member_add(seller.pk, count=1, stars=stars)
            return rating, True
        if not existing.hidden:
            _member_add(seller.pk, count=0, stars=stars - existing.stars)
        Rating.objects.filter(pk=existing.pk).update(
            stars=stars, comment=comment, updated_at=_now(), ad=ad or existing.ad
        )
        existing.refresh_from_db()
        return existing, False


def rating_delete(rating: Rating, user) -> None:
    if rating.rater_id != user.pk:
        raise Forbidden(_("Only its author can delete a rating."))
    with transaction.atomic():
        row = Rating.objects.select_for_update().filter(pk=rating.pk).first()
        if row is None:
            return
        if not row.hidden:
            _member_add(row.seller_id, count=-1, stars=-row.stars)
        row.delete()


def rating_reply(rating: Rating, seller, text: str) -> Rating:
    """The seller answers a rating once, in public."""
    if rating.seller_id != seller.pk:
        raise Forbidden(_("Only the rated seller can reply."))
    text = (text or "").strip()
    if not text:
        raise ValidationError({"reply": [_("Write a reply.")]})
    if len(text) > 1000:
        raise ValidationError({"reply": [_("Keep the reply under 1,000 characters.")]})
    done = Rating.objects.filter(pk=rating.pk, replied_at__isnull=True).update(reply=text, replied_at=_now())
    if not done:
        raise Conflict(_("You have already replied to this rating."))
    rating.refresh_from_db()
    return rating


def rating_hide(rating: Rating, *, hidden: bool) -> bool:
    """A moderator hides (or shows again) a rating; the seller's score follows, once."""
    with transaction.atomic():
        done = Rating.objects.filter(pk=rating.pk, hidden=not hidden).update(hidden=hidden)
        if done:
            sign = -1 if hidden else 1
            _member_add(rating.seller_id, count=sign, stars=sign * rating.stars)
            Report.objects.filter(rating=rating, resolved_at__isnull=True).update(resolved_at=_now())
    return bool(done)


def message_hide(message: Message, *, hidden: bool) -> bool:
    done = Message.objects.filter(pk=message.pk, hidden=not hidden).update(hidden=hidden)
    if done:
        Report.objects.filter(message=message, resolved_at__isnull=True).update(resolved_at=_now())
    return bool(done)


# -- reports ------------------------------------------------------------------------------------


def report(reporter, *, reason: str, comment: str = "", ad: Ad | None = None, message=None, rating=None) -> Report:
    """Report an ad, a message or a rating, once each. After ADBOARD_REPORTS_TO_HIDE reports a
    published ad is hidden (a message or rating too) until a moderator decides."""
    if reason not in ReportReason.values:
        raise ValidationError({"reason": [_("Choose a reason: %(r)s.") % {"r": ", ".join(ReportReason.values)}]})
    targets = [t for t in (ad, message, rating) if t is not None]
    if len(targets) != 1:
        raise ValidationError({"target": [_("Report one ad, message or rating.")]})
    if ad is not None and ad.owner_id == reporter.pk:
        raise Conflict(_("You cannot report your own ad."))
    if message is not None and message.sender_id == reporter.pk:
        raise Conflict(_("You cannot report your own message."))
    if rating is not None and rating.rater_id == reporter.pk:
        raise Conflict(_("You cannot report your own rating."))
    threshold = settings.ADBOARD_REPORTS_TO_HIDE
    with transaction.atomic():
        try:
            with transaction.atomic():
                found = Report.objects.create(
                    reporter=reporter,
                    reason=reason,
                    comment=(comment or "").strip()[:500],
                    ad=ad,
                    message=message,
                    rating=rating,
                )
        except IntegrityError:
            raise Conflict(_("You have already reported this.")) from None
        model = type(targets[0])
        model.objects.filter(pk=targets[0].pk).update(report_count=F("report_count") + 1)
        if ad is not None:
            if Ad.objects.filter(pk=ad.pk, status=Ad.Status.PUBLISHED, report_count__gte=threshold).update(
                status=Ad.Status.HIDDEN, updated_at=_now()
            ):
                cache.changed()
        elif message is not None:
            Message.objects.filter(pk=message.pk, hidden=False, report_count__gte=threshold).update(hidden=True)
        elif rating is not None:
            if Rating.objects.filter(pk=rating.pk, hidden=False, report_count__gte=threshold).update(hidden=True):
                _member_add(rating.seller_id, count=-1, stars=-rating.stars)
    return found


# -- notices ------------------------------------------------------------------------------------


def _notify_after_commit() -> None:
    """Send the board's unsent emails after the commit (the sweep catches any the broker missed)."""
    from marketing.adboard import tasks

    transaction.on_commit(tasks.send_notices_soon)


def pending_counts() -> dict:
    """For the admin: what waits for a moderator."""
    return Ad.objects.aggregate(
        pending=Count("pk", filter=Q(status=Ad.Status.PENDING)),
        hidden=Count("pk", filter=Q(status=Ad.Status.HIDDEN)),
        reported=Count("pk", filter=Q(status=Ad.Status.PUBLISHED, report_count__gt=0)),
    )
