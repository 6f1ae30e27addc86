"""The seven flows a store starts with, switched off, with their steps written: staff read them,
change the words and delays, and switch them on (docs/campaigns.md, "Flows")."""

import re

from django.db import migrations

H = 60
D = 24 * H

FLOWS = [
    (
        "welcome",
        "Welcome",
        None,
        True,
        [
            (
                0,
                "email",
                False,
                "Welcome to {{ store }}, {{ first_name }}",
                "Here is what we are about, and a thank-you for joining.",
                "<h1>Welcome, {{ first_name }}!</h1><p>Thank you for joining {{ store }}. Our newest arrivals are "
                'waiting for you.</p><p><a href="/">See what\'s new</a></p>',
                "",
            ),
            (
                3 * D,
                "email",
                True,
                "A gift for your first order",
                "Your own code, for the first order.",
                "<p>{{ first_name }}, here is a code for your first order: <strong>{{ code }}</strong>.</p>"
                '<p><a href="/">Start shopping</a></p>',
                "",
            ),
        ],
    ),
    (
        "abandoned_cart",
        "Abandoned cart",
        None,
        True,
        [
            (
                1 * H,
                "email",
                False,
                "You left something in your cart",
                "It is still there, saved for you.",
                '<p>{{ first_name }}, your cart is waiting for you.</p><p><a href="/cart/">Back to my cart</a></p>',
                "",
            ),
            (
                23 * H,
                "email",
                False,
                "Still thinking it over?",
                "Your cart is saved; stock is not.",
                '<p>The things in your cart are popular: stock may not last.</p><p><a href="/cart/">See my cart</a></p>',
                "",
            ),
            (
                2 * D,
                "email",
                True,
                "A little help to decide",
                "A code for your cart, for a few days.",
                '<p>Here is a code for your cart: <strong>{{ code }}</strong>.</p><p><a href="/cart/">Use it now</a></p>',
                "",
            ),
        ],
    ),
    (
        "browse",
        "Browse abandonment",
        1,
        True,
        [
            (
                2 * H,
                "email",
                False,
                "Saw something you liked?",
                "The products you looked at are still here.",
                '<p>{{ first_name }}, the products you looked at are still waiting.</p><p><a href="/">Have another look</a></p>',
                "",
            ),
        ],
    ),
    (
        "post_purchase",
        "After a purchase",
        None,
        False,
        [
            (
                0,
                "email",
                False,
                "Thank you for your order {{ order_number }}",
                "What happens next.",
                "<p>Thank you, {{ first_name }}! We are preparing order {{ order_number }}.</p>"
                '<p><a href="/account/orders/">Follow my order</a></p>',
                "",
            ),
            (
                5 * D,
                "email",
                False,
                "How do you like it?",
                "A review helps other shoppers.",
                "<p>{{ first_name }}, how is your order {{ order_number }}? Your review helps other shoppers.</p>"
                '<p><a href="/account/orders/">Write a review</a></p>',
                "delivery",
            ),
        ],
    ),
    (
        "birthday",
        "Birthday",
        None,
        False,
        [
            (
                9 * H,
                "email",
                False,
                "Happy birthday, {{ first_name }}!",
                "A present from us.",
                "<p>Happy birthday, {{ first_name }}! Your loyalty points balance is {{ points }}: enjoy a treat on "
                'us.</p><p><a href="/account/points/">See my points</a></p>',
                "",
            ),
        ],
    ),
    (
        "winback",
        "Win-back",
        90,
        True,
        [
            (
                0,
                "email",
                True,
                "We miss you, {{ first_name }}",
                "A code to welcome you back.",
                "<p>It has been a while. Here is a code to welcome you back: <strong>{{ code }}</strong>.</p>"
                '<p><a href="/">See what\'s new</a></p>',
                "",
            ),
        ],
    ),
    (
        "points_expiry",
        "Points about to expire",
        None,
        False,
        [
            (
                0,
                "onsite",
                False,
                "Your points expire soon",
                "",
                "",
                "{{ points_expiring }} points expire on {{ expiry_date }}: use them on your next order.",
            ),
            (
                0,
                "push",
                False,
                "Your points expire soon",
                "",
                "",
                "{{ points_expiring }} points expire on {{ expiry_date }}.",
            ),
        ],
    ),
]


def create(apps, schema_editor):
    Flow = apps.get_model("campaigns", "Flow")
    FlowStep = apps.get_model("campaigns", "FlowStep")
    for trigger, name, days, exit_on_order, steps in FLOWS:
        flow, created = Flow.objects.get_or_create(
            trigger=trigger, defaults={"name": name, "days": days, "exit_on_order": exit_on_order}
        )
        if not created:
            continue
        for position, (delay, channel, _uses_code, subject, preheader, html, text_or_wait) in enumerate(steps, start=1):
            after_delivery = text_or_wait == "delivery"
            FlowStep.objects.create(
                flow=flow,
                position=position,
                delay_minutes=delay,
                channel=channel,
                subject=subject,
                preheader=preheader,
                body_html=html,
                body_text="" if after_delivery else text_or_wait,
                url="/account/points/" if channel != "email" else "",
                # As Content.save() finds them (historical models have no save of their own).
                links=list(dict.fromkeys(re.findall(r'href="(/[^"{]*)"', html)))
                + (["/account/points/"] if channel != "email" else []),
                after_delivery=after_delivery,
            )


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0004_step_after_delivery")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
