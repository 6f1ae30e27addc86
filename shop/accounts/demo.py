"""Demo customers: two known accounts and a crowd spread over regions, ages and genders."""

import datetime as dt
import random

from django.contrib.auth.hashers import make_password
from django.utils import timezone

from shop.accounts.models import Address, Channel, Consent, ConsentChange, ConsentSource, Gender, Profile, User
from shop.accounts.services import CONSENT_WORDING
from shop.core.demo import DemoContext

CUSTOMERS_PER_SCALE = 500

FIRST = {
    Gender.FEMALE: "Olivia Emma Ava Sophia Mia Amelia Harper Evelyn Abigail Ella Nora Leila Sara Yuki Priya Chloe "
    "Camille Lena Ines Maya Zara Hana Aisha Grace Lucia".split(),
    Gender.MALE: "Liam Noah Oliver Elijah James William Lucas Henry Theo Mateo Omar Arjun Kenji Hugo Felix Leo "
    "Daniel Samuel Jonas Ethan Marco Ali Diego Adam Ravi".split(),
    Gender.NONBINARY: "Alex Sam Robin Jamie Charlie Sky Morgan Quinn Riley Avery".split(),
}
LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Martinez Lopez Wilson Anderson Thomas Taylor Moore "
    "Martin Lee Walker Hall Allen Young King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts "
    "Carter Phillips Evans Turner Torres Parker Collins Edwards Stewart Morris Nguyen Murphy Rivera Cook Rogers "
    "Morgan Peterson Cooper Reed Bailey Bell Gomez Kelly Howard Ward Cox Diaz Richardson Wood Watson Brooks Bennett"
).split()
# (city, region, country, weight): most customers near the store, some abroad.
PLACES = [
    ("New York", "NY", "US", 14),
    ("Brooklyn", "NY", "US", 6),
    ("Los Angeles", "CA", "US", 12),
    ("San Francisco", "CA", "US", 7),
    ("San Diego", "CA", "US", 4),
    ("Chicago", "IL", "US", 8),
    ("Houston", "TX", "US", 7),
    ("Austin", "TX", "US", 5),
    ("Dallas", "TX", "US", 4),
    ("Seattle", "WA", "US", 6),
    ("Portland", "OR", "US", 3),
    ("Denver", "CO", "US", 4),
    ("Miami", "FL", "US", 5),
    ("Orlando", "FL", "US", 3),
    ("Atlanta", "GA", "US", 4),
    ("Boston", "MA", "US", 5),
    ("Philadelphia", "PA", "US", 4),
    ("Phoenix", "AZ", "US", 4),
    ("Minneapolis", "MN", "US", 2),
    ("Nashville", "TN", "US", 2),
    ("Toronto", "ON", "CA", 4),
    ("Vancouver", "BC", "CA", 2),
    ("London", "England", "GB", 4),
    ("Manchester", "England", "GB", 1),
    ("Berlin", "Berlin", "DE", 2),
    ("Paris", "Île-de-France", "FR", 2),
]
STREETS = "Oak Maple Cedar Pine Elm Lake Hill Park Main Church Market River Sunset Willow".split()


def seed(ctx: DemoContext) -> None:
    password = make_password("customer")  # hashed once: hashing 20,000 times would take minutes
    _known_accounts(ctx)
    rng = ctx.rng("customers")
    total = CUSTOMERS_PER_SCALE * ctx.scale
    wanted = [_customer(i, rng) for i in range(total)]
    existing = set(User.objects.filter(email__endswith="@example.net").values_list("email", flat=True))
    new = [c for c in wanted if c["email"] not in existing]
    ctx.log(f"customers: {len(existing):,} present, adding {len(new):,}")
    for batch in ctx.batches(new, 2000, "customers"):
        User.objects.bulk_create(
            [
                User(
                    email=c["email"],
                    first_name=c["first"],
                    last_name=c["last"],
                    password=password,
                    date_joined=c["joined"],
                )
                for c in batch
            ]
        )
        ids = dict(User.objects.filter(email__in=[c["email"] for c in batch]).values_list("email", "id"))
        Profile.objects.bulk_create([Profile(user_id=ids[c["email"]], **c["profile"]) for c in batch])
        Address.objects.bulk_create([Address(user_id=ids[c["email"]], **c["address"]) for c in batch])
        _consents([(ids[c["email"]], channel, c["joined"]) for c in batch for channel in c["consents"]])


def _consents(given: list[tuple[int, str, dt.datetime]]) -> None:
    """Consents given at sign-up, with their evidence, as the registration form records them."""
    Consent.objects.bulk_create([Consent(user_id=u, channel=ch, given=True, changed_at=at) for u, ch, at in given])
    ConsentChange.objects.bulk_create(
        [
            ConsentChange(
                user_id=u,
                channel=ch,
                given=True,
                at=at,
                source=ConsentSource.REGISTRATION,
                wording=str(CONSENT_WORDING[ch]),
            )
            for u, ch, at in given
        ]
    )


def _known_accounts(ctx: DemoContext) -> None:
    staff, created = User.objects.get_or_create(
        email="admin@example.com",
        defaults={"first_name": "Ada", "last_name": "Admin", "is_staff": True, "is_superuser": True},
    )
    if created:
        staff.set_password("admin")
        staff.save()
    shopper, created = User.objects.get_or_create(
        email="shopper@example.com",
        # A customer for over a year: their order history (shop/orders/demo.py) goes back that far.
        defaults={"first_name": "Sam", "last_name": "Shopper", "date_joined": timezone.now() - dt.timedelta(days=400)},
    )
    if created:
        shopper.set_password("shopper")
        shopper.save()
        Profile.objects.create(
            user=shopper,
            birthday=dt.date(1994, 5, 17),
            city="Brooklyn",
            region="NY",
            country="US",
            phone="+17185550123",
        )
        _consents([(shopper.pk, channel, shopper.date_joined) for channel in Channel.values])
        Address.objects.create(
            user=shopper,
            full_name="Sam Shopper",
            line1="12 Willow Street",
            city="Brooklyn",
            region="NY",
            postal_code="11201",
            country="US",
            is_default=True,
        )
    Profile.objects.get_or_create(user=staff)


def _customer(i: int, rng) -> dict:
    gender = rng.choices([Gender.FEMALE, Gender.MALE, Gender.NONBINARY, ""], weights=[50, 42, 3, 5])[0]
    first = rng.choice(FIRST[gender or (Gender.FEMALE if i % 2 else Gender.MALE)])
    last = rng.choice(LAST)
    city, region, country, _weight = rng.choices(PLACES, weights=[p[3] for p in PLACES])[0]
    age = max(18, min(85, int(rng.gauss(38, 13))))
    birthday = dt.date(2026 - age, rng.randint(1, 12), rng.randint(1, 28))
    consent = rng.random() < 0.6
    # Their own generator, so the draws above stay what they were.
    more = random.Random(f"consents:{i}")
    texts = consent and more.random() < 0.25
    joined = timezone.now() - dt.timedelta(days=rng.randint(0, 3 * 365), minutes=rng.randint(0, 1439))
    return {
        "email": f"{first}.{last}.{i}@example.net".lower(),
        "first": first,
        "last": last,
        "joined": joined,
        "profile": {
            "birthday": birthday,
            "gender": gender,
            "city": city,
            "region": region,
            "country": country,
            "phone": f"+1{more.randint(201, 989)}555{more.randint(1000, 9999)}" if texts else "",
            # Its own generator, so the draws above stay what they were.
            "analytics_consent": (personal := random.Random(f"analytics-consent:{i}").random() < 0.55),
            "analytics_consent_at": joined if personal else None,
        },
        "consents": [Channel.EMAIL] * consent
        + [Channel.SMS] * texts
        + [Channel.ONSITE] * (consent and more.random() < 0.7),
        "address": {
            "full_name": f"{first} {last}",
            "line1": f"{rng.randint(1, 999)} {rng.choice(STREETS)} Street",
            "city": city,
            "region": region,
            "postal_code": f"{rng.randint(10000, 99999)}",
            "country": country,
            "is_default": True,
        },
    }
