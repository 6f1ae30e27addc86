"""The demo board: about 200 ads by the demo customers in every category of the starting tree, with drawn
photos, spread over the last five months (most published, some sold or expired, a few rejected), eight
waiting in the moderators' queue (the automatic flags computed as for a real post), four hidden after
reports, conversations, ratings (the sellers' figures kept by the services' increments), saved ads and
searches. Skipped when the board has ads already; everything drawn from ctx.rng("adboard").
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from marketing.adboard import cache, search, selectors, services
from marketing.adboard.imagegen import render
from marketing.adboard.models import Ad, AdPhoto, Conversation, Member, Message, Rating, Report, SavedAd
from shop.accounts.models import User
from shop.core.demo import DemoContext
from shop.core.moderation import ReportReason

ADS = 200
PENDING, HIDDEN, REJECTED = 8, 4, 3
S = Ad.Status
PLACES = [
    ("Portland", "Oregon"), ("Seattle", "Washington"), ("Austin", "Texas"), ("Houston", "Texas"),
    ("Chicago", "Illinois"), ("Denver", "Colorado"), ("Boston", "Massachusetts"), ("Brooklyn", "New York"),
    ("New York", "New York"), ("Los Angeles", "California"), ("San Diego", "California"), ("Miami", "Florida"),
    ("Atlanta", "Georgia"), ("Minneapolis", "Minnesota"), ("Nashville", "Tennessee"), ("Phoenix", "Arizona"),
]  # fmt: skip
# slug: [(title, lowest price, highest price)], then what each category's details look like.
ITEMS = {
    "furniture": [("Oak dining table with 4 chairs", 180, 450), ("Grey three-seater sofa", 150, 600),
                  ("IKEA Kallax shelf, white", 30, 70), ("Mid-century armchair", 120, 380),
                  ("Solid pine bed frame, queen", 90, 260), ("Glass coffee table", 40, 120)],
    "appliances": [("Bosch washing machine, 8 kg", 150, 380), ("Samsung fridge freezer", 200, 520),
                   ("Dyson V8 cordless vacuum", 120, 220), ("Nespresso coffee machine", 40, 110),
                   ("Microwave oven, 25 l", 30, 70)],
    "garden": [("Weber kettle barbecue", 60, 160), ("Petrol lawn mower", 90, 240), ("Teak garden bench", 80, 200),
               ("Terracotta pots, set of 6", 15, 45), ("Garden hose reel with 30 m hose", 20, 55)],
    "cars": [("Toyota Corolla 1.8 Hybrid", 9000, 21000), ("Volkswagen Golf TDI", 5500, 16000),
             ("Honda Civic 2.0", 7000, 18000), ("Ford Focus Estate", 3500, 11000), ("Tesla Model 3", 19000, 33000),
             ("Mazda MX-5 convertible", 8000, 19000), ("Subaru Outback AWD", 8500, 22000)],
    "bicycles": [("Trek road bike, carbon fork", 350, 1100), ("Kids' bike with stabilisers", 40, 110),
                 ("Giant mountain bike, 29 inch", 300, 900), ("Dutch city bike with basket", 120, 320),
                 ("Electric commuter bike", 700, 1800)],
    "flats-to-rent": [("Bright one-bedroom flat near the park", 1100, 1900), ("Studio in the city centre", 850, 1400),
                      ("Two-bedroom flat with balcony", 1500, 2600), ("Loft with a view of the river", 1800, 3200),
                      ("Three-bedroom family flat, quiet street", 2000, 3400)],
    "phones": [("iPhone 13, unlocked", 320, 480), ("Samsung Galaxy S22", 260, 420), ("Google Pixel 7", 230, 380),
               ("iPhone 12 mini", 200, 320), ("Fairphone 4", 240, 360)],
    "computers": [("MacBook Air M1, 13 inch", 520, 780), ("Lenovo ThinkPad T14", 380, 650),
                  ("Gaming PC, RTX 3060", 650, 1100), ("Dell 27 inch monitor", 90, 190),
                  ("iPad 9th generation", 180, 280)],
    "audio-tv": [("LG 55 inch OLED TV", 450, 900), ("Sonos One speaker", 110, 170), ("Yamaha AV receiver", 120, 300),
                 ("Turntable with speakers", 90, 250), ("Bose noise-cancelling headphones", 120, 220)],
    "clothing": [("Winter parka, barely worn", 40, 140), ("Wool coat, camel", 50, 160), ("Denim jacket", 20, 60),
                 ("Wedding dress, ivory", 200, 700), ("Rain jacket, waterproof", 25, 80)],
    "shoes": [("Running shoes, Nike Pegasus", 30, 80), ("Leather boots, brown", 45, 130),
              ("Hiking boots, Gore-Tex", 50, 140), ("Sneakers, white", 20, 60)],
    "sports": [("Yoga mat and blocks", 15, 40), ("Adjustable dumbbells, 2 × 24 kg", 120, 260),
               ("Tennis racket, Wilson", 30, 90), ("Snowboard with bindings", 120, 300), ("Rowing machine", 200, 550)],
    "books-music": [("Harry Potter box set", 25, 60), ("Acoustic guitar, Yamaha", 80, 200),
                    ("Vinyl records, 40 jazz albums", 120, 350), ("Digital piano, 88 keys", 250, 600),
                    ("Cookbooks, bundle of 12", 15, 40)],
    "toys-games": [("LEGO Technic set, complete", 60, 180), ("Wooden play kitchen", 40, 110),
                   ("Nintendo Switch with two games", 180, 280), ("Board games, bundle of 8", 30, 80),
                   ("Baby stroller, Bugaboo", 150, 420)],
}  # fmt: skip
OPENINGS = [
    "Selling because we are moving at the end of the month.",
    "Used for about two years and looked after well.",
    "In great shape, from a smoke-free and pet-free home.",
    "Upgraded, so this one needs a new owner.",
    "Bought last year; hardly used.",
    "Works perfectly; a few small marks, see the photos.",
]
CLOSINGS = [
    "Pick-up only, evenings and weekends.",
    "Happy to answer questions; write to me through the board.",
    "Can deliver nearby for a small fee.",
    "Price is firm, no trades.",
    "Cash or bank transfer on pick-up.",
]
CONDITIONS = ["new", "like_new", "good", "good", "good", "fair"]
QUESTIONS = [
    "Hi! Is this still available?",
    "Hello, would you take a bit less? I can pick it up tomorrow.",
    "Could you send me one more photo of the back?",
    "Hi, how old is it exactly?",
]
ANSWERS = [
    "Yes, it is still here.",
    "I could go a little lower if you can come this week.",
    "Sure, it has a small scratch but nothing serious.",
    "About two years. It comes with the original box.",
]
FOLLOW_UPS = [
    "Great, can I come by on Saturday morning?",
    "Deal. What is the address?",
    "Thanks, I will think it over.",
]
CLOSE = ["Saturday works, see you then.", "I will send it in a minute.", "No problem, let me know."]
RATINGS = [
    (5, "Exactly as described, friendly and on time."),
    (5, "Smooth deal, would buy again."),
    (4, "Good condition, quick replies."),
    (4, "All fine, a little late for the pick-up."),
    (3, "Item OK, but it had more wear than the photos showed."),
    (2, "Took days to answer and the price changed at the door."),
    (1, "Did not show up twice."),
    (5, ""),
    (4, ""),
]
REPLIES = ["Thank you, enjoy it!", "Sorry about the wait, it was a busy week.", "Glad it found a good home."]
REJECTIONS = [
    "Show the item itself: the photo is a picture from a shop's website.",
    "Put this in Vehicles › Bicycles, not Furniture.",
    "Remove the phone number from the title: buyers write to you through the board.",
]
SEARCHES = [
    "q=sofa",
    "category=cars&max_price=15000",
    "category=bicycles&q=electric",
    "q=iphone",
    "category=flats-to-rent",
]


def seed(ctx: DemoContext) -> None:
    if Ad.objects.exists():
        ctx.log("ad board: ads present, nothing added")
        return
    users = list(User.objects.filter(email__endswith="@example.net", is_staff=False).order_by("id")[:200])
    shopper = User.objects.filter(email="shopper@example.com").first()
    if len(users) < 20:
        ctx.log("ad board: not enough demo customers, skipped")
        return
    rng = ctx.rng("adboard")
    now = timezone.now()
    sellers = users[:70] + ([shopper] if shopper else [])
    buyers = users[70:]
    with transaction.atomic():
        Member.objects.bulk_create(
            [Member(user=u) for u in users + ([shopper] if shopper else [])], ignore_conflicts=True
        )
        ads = _ads(ctx, rng, sellers, shopper, now)
        _photos(ctx, rng, ads)
        _queue(ctx, rng, ads, buyers, now)
        conversations = _conversations(ctx, rng, ads, buyers, now)
        _ratings(ctx, rng, conversations, now)
        _saved(ctx, rng, ads, buyers)
    cache.changed()  # rows were written in bulk: lists kept from before are out of date
    counts = dict(Ad.objects.order_by().values_list("status").annotate(n=Count("id")))
    ctx.log(f"ad board: {len(ads)} ads ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})")


def _price(rng, low: int, high: int) -> Decimal:
    step = 500 if high > 5000 else 50 if high > 1000 else 10 if high > 100 else 5
    return Decimal(max(step, round(rng.uniform(low, high) / step) * step))


def _details(rng, slug: str, title: str) -> dict:
    if slug == "cars":
        year = rng.randint(2008, 2023)
        fuel = (
            "electric"
            if "Tesla" in title
            else "hybrid"
            if "Hybrid" in title
            else "diesel"
            if "TDI" in title
            else "petrol"
        )
        return {"year": year, "mileage": max(1000, (2026 - year) * rng.randint(9, 17) * 1000), "fuel": fuel,
                "gearbox": rng.choice(["manual", "automatic"])}  # fmt: skip
    if slug == "bicycles":
        words = {"Kids": "kids", "Electric": "electric", "mountain": "mountain", "road": "road"}
        kind = next((v for k, v in words.items() if k in title), "city")
        return {"frame": rng.choice(["S", "M", "L"]), "bike_type": kind}
    if slug == "flats-to-rent":
        rooms = (
            1 if "Studio" in title or "one-bedroom" in title else 3 if "Two" in title else 4 if "Three" in title else 2
        )
        return {
            "rooms": rooms,
            "area": rooms * rng.randint(22, 32) + rng.randint(0, 15),
            "furnished": rng.random() < 0.5,
        }
    if slug == "phones":
        return {"storage": rng.choice(["64 GB", "128 GB", "128 GB", "256 GB"])}
    if slug == "computers":
        return {"ram": rng.choice([8, 8, 16, 16, 32])} if "monitor" not in title else {}
    if slug == "furniture":
        return {"material": rng.choice(["wood", "fabric", "metal", "glass", "leather"])}
    if slug == "appliances":
        return {"energy": rng.choice(["A", "B", "C"])}
    if slug == "clothing":
        return {"size": rng.choice(["S", "M", "M", "L", "XL"])}
    if slug == "shoes":
        return {"eu_size": rng.randint(36, 46)}
    return {}


def _ads(ctx, rng, sellers, shopper, now) -> list[Ad]:
    categories = {c.slug: c for c in selectors.leaves()}
    slugs = [s for s in ITEMS if s in categories]
    plan = [S.PENDING] * PENDING + [S.HIDDEN] * HIDDEN + [S.REJECTED] * REJECTED
    plan += [S.SOLD] * 18 + [S.EXPIRED] * 25
    plan += [S.PUBLISHED] * (ADS - len(plan))
    rng.shuffle(plan)
    ads = []
    for i, status in enumerate(plan):
        slug = slugs[i % len(slugs)]
        title, low, high = rng.choice(ITEMS[slug])
        owner = shopper if shopper and i % 40 == 0 else rng.choice(sellers)
        city, region = rng.choice(PLACES)
        kind = "free" if rng.random() < 0.04 and high < 100 else "negotiable" if rng.random() < 0.2 else "fixed"
        description = f"{rng.choice(OPENINGS)} {title}, {city}. {rng.choice(CLOSINGS)}"
        ad = Ad(
            owner=owner,
            category=categories[slug],
            title=title,
            description=description,
            price=None if kind == "free" else _price(rng, low, high),
            price_kind=kind,
            currency=settings.SHOP_CURRENCY,
            condition="new" if slug == "flats-to-rent" else rng.choice(CONDITIONS),
            city=city,
            region=region,
            details=_details(rng, slug, title),
            status=status,
        )
        _dates(rng, ad, now)
        if status == S.REJECTED:
            ad.rejection_reason = REJECTIONS[i % len(REJECTIONS)]
        ad.search_title, ad.search_body = search.index_texts(ad)
        ad.fingerprint = services.fingerprint(ad.title, ad.description)
        ads.append(ad)
    # Two posts in the queue with what the automatic flags look for.
    waiting = [a for a in ads if a.status == S.PENDING]
    waiting[0].title = f"{waiting[0].title} call 503 555 0142"
    if waiting[1].price:
        waiting[1].price = (waiting[1].price / 20).quantize(Decimal("1"))
    Ad.objects.bulk_create(ads, batch_size=200)
    ctx.log(f"  ads: {len(ads)} in {len(slugs)} categories")
    return ads


def _dates(rng, ad: Ad, now) -> None:
    days = settings.ADBOARD_AD_DAYS
    if ad.status == S.PENDING:
        ad.created_at = now - dt.timedelta(hours=rng.randint(1, 40))
    elif ad.status == S.PUBLISHED:
        ad.published_at = now - dt.timedelta(days=rng.uniform(0.2, days - 1))
    elif ad.status == S.EXPIRED:
        ad.published_at = now - dt.timedelta(days=rng.uniform(days + 2, 150))
    elif ad.status == S.SOLD:
        ad.published_at = now - dt.timedelta(days=rng.uniform(5, 120))
    elif ad.status == S.HIDDEN:
        ad.published_at = now - dt.timedelta(days=rng.uniform(2, 20))
    else:  # rejected: never published
        ad.created_at = now - dt.timedelta(days=rng.uniform(1, 30))
    if ad.published_at:
        ad.created_at = ad.published_at - dt.timedelta(hours=rng.randint(1, 20))
        ad.expires_at = ad.published_at + dt.timedelta(days=days)
    ad.updated_at = ad.published_at or ad.created_at
    if ad.status == S.SOLD:
        ad.updated_at = min(now, ad.published_at + dt.timedelta(days=rng.uniform(1, 20)))


def _photos(ctx, rng, ads) -> None:
    photos = []
    for ad in ads:
        hue = rng.random()
        count = rng.choice([1, 2, 2, 3, 3, 4])
        for position in range(count):
            image, thumb = render(kind=ad.category.slug, hue=hue, variant=position)
            name = f"ads/demo/{ad.pk}-{position}"
            photos.append(
                AdPhoto(
                    ad=ad,
                    image=default_storage.save(f"{name}.jpg", ContentFile(image)),
                    thumbnail=default_storage.save(f"{name}-thumb.jpg", ContentFile(thumb)),
                    width=640,
                    height=480,
                    position=position,
                )
            )
        ad.photo_count = count
    AdPhoto.objects.bulk_create(photos, batch_size=500)
    Ad.objects.bulk_update(ads, ["photo_count"], batch_size=200)
    ctx.log(f"  photos: {len(photos)} drawn")


def _queue(ctx, rng, ads, buyers, now) -> None:
    """The queue's flags as a real post gets them, the hidden ads' reports, a few reports on shown ads."""
    for ad in [a for a in ads if a.status == S.PENDING]:
        ad.flags = services.flags_for(ad)
        Ad.objects.filter(pk=ad.pk).update(flags=ad.flags)
    reports = []
    threshold = settings.ADBOARD_REPORTS_TO_HIDE
    reasons = [ReportReason.FRAUD, ReportReason.SPAM, ReportReason.PROHIBITED, ReportReason.WRONG_CATEGORY]
    reported = [(a, threshold + rng.randint(0, 1)) for a in ads if a.status == S.HIDDEN]
    reported += [(a, 1) for a in rng.sample([a for a in ads if a.status == S.PUBLISHED], 3)]
    for ad, n in reported:
        reason = rng.choice(reasons)
        for reporter in rng.sample([b for b in buyers if b.pk != ad.owner_id], n):
            when = ad.published_at + dt.timedelta(hours=rng.randint(2, 48))
            reports.append(Report(reporter=reporter, ad=ad, reason=reason, created_at=min(when, now)))
        ad.report_count = n
        Ad.objects.filter(pk=ad.pk).update(report_count=n)
    Report.objects.bulk_create(reports)
    ctx.log(f"  queue: {PENDING} waiting, {HIDDEN} hidden after {len(reports)} reports")


def _conversations(ctx, rng, ads, buyers, now) -> list[Conversation]:
    talked = [a for a in ads if a.status in (S.PUBLISHED, S.SOLD) and a.published_at < now - dt.timedelta(days=1)]
    chosen = rng.sample(talked, min(60, len(talked)))
    conversations, messages = [], []
    for ad in chosen:
        buyer = rng.choice([b for b in buyers if b.pk != ad.owner_id])
        start = ad.published_at + dt.timedelta(hours=rng.randint(1, 20))
        lines = [rng.choice(QUESTIONS), rng.choice(ANSWERS)]
        if rng.random() < 0.6:
            lines += [rng.choice(FOLLOW_UPS), rng.choice(CLOSE)]
        when, last = start, start
        talk = Conversation(ad=ad, buyer=buyer, seller_id=ad.owner_id, created_at=start)
        for n, body in enumerate(lines):
            when = min(now, when + dt.timedelta(minutes=rng.randint(10, 600)))
            messages.append(
                (talk, Message(sender_id=buyer.pk if n % 2 == 0 else ad.owner_id, body=body, created_at=when))
            )
            last = when
        talk.last_message_at = last
        talk.buyer_read_at = last
        talk.seller_read_at = last if rng.random() < 0.8 else None
        conversations.append(talk)
    Conversation.objects.bulk_create(conversations)
    for talk, message in messages:
        message.conversation = talk
    Message.objects.bulk_create([m for _t, m in messages])
    ctx.log(f"  conversations: {len(conversations)} with {len(messages)} messages")
    return conversations


def _ratings(ctx, rng, conversations, now) -> None:
    """Buyers who wrote to a seller rate them; the sellers' figures move by the services' own increments."""
    seen = set()
    ratings = []
    for talk in conversations:
        if rng.random() > 0.55 or (talk.seller_id, talk.buyer_id) in seen:
            continue
        seen.add((talk.seller_id, talk.buyer_id))
        stars, comment = rng.choice(RATINGS)
        when = min(now, talk.last_message_at + dt.timedelta(days=rng.randint(1, 5)))
        rating = Rating(seller_id=talk.seller_id, rater_id=talk.buyer_id, ad=talk.ad, stars=stars, comment=comment,
                        created_at=when, updated_at=when)  # fmt: skip
        if comment and rng.random() < 0.3:
            rating.reply, rating.replied_at = rng.choice(REPLIES), when + dt.timedelta(hours=5)
        ratings.append(rating)
    Rating.objects.bulk_create(ratings)
    for rating in ratings:
        services._member_add(rating.seller_id, count=1, stars=rating.stars)
    ctx.log(f"  ratings: {len(ratings)} ({sum(1 for r in ratings if r.reply)} with the seller's reply)")


def _saved(ctx, rng, ads, buyers) -> None:
    public = [a for a in ads if a.status == S.PUBLISHED]
    saves = {(b.pk, a.pk) for b in buyers[:30] for a in rng.sample(public, 2)}
    SavedAd.objects.bulk_create([SavedAd(user_id=u, ad_id=a) for u, a in sorted(saves)])
    for buyer, query in zip(buyers[:5], SEARCHES, strict=False):
        services.search_save(buyer, query=query)
    ctx.log(f"  saved: {len(saves)} ads, {min(5, len(buyers))} searches")
