"""Known customers and campaigns for the campaigns tests."""

import datetime as dt

from django.utils import timezone

from marketing.campaigns.models import Campaign, Segment, SegmentRule, Variant
from shop.accounts.services import consent_set
from tests.factories import ProfileFactory, UserFactory


def customer(email: str, *, consents=("email",), **profile):
    user = UserFactory(email=email, first_name=email.split("@")[0].title())
    ProfileFactory(user=user, **profile)
    for channel in consents:
        consent_set(user=user, channel=channel, given=True, source="staff")
    return user


def segment(key: str = "everyone", *, match: str = "all", rules=()) -> Segment:
    seg = Segment.objects.create(name=key.title(), key=key, match=match)
    for position, rule in enumerate(rules):
        field, operator, value, *days = rule
        SegmentRule.objects.create(
            segment=seg, field=field, operator=operator, value=value, days=days[0] if days else None, position=position
        )
    return seg


def campaign(seg: Segment, *, ab: str = "", **fields) -> Campaign:
    c = Campaign.objects.create(name=fields.pop("name", "Spring sale"), segment=seg, ab_test=ab, **fields)
    Variant.objects.create(
        campaign=c,
        key="a",
        subject="Hello {{ first_name }}",
        body_html='<p>Spring is here, {{ first_name }}.</p><p><a href="/catalog/">Shop now</a> '
        '<a href="https://example.org/blog?x=1&amp;y=2">Read</a></p>',
    )
    if ab:
        Variant.objects.create(
            campaign=c, key="b", subject="B: {{ first_name }}, 20% off", body_html='<p><a href="/catalog/">Go</a></p>'
        )
    return c


def days_ago(n: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=n)
