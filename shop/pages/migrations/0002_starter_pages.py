"""The pages a store's footer links to, with text a new store can publish as it is and edit."""

from django.db import migrations

PAGES = [
    (
        "shipping",
        "Shipping",
        "help",
        1,
        "How fast we ship, what it costs, and where we deliver.",
        """<h2>What it costs</h2>
<table><thead><tr><th scope="col">Method</th><th scope="col">Time</th><th scope="col">Price</th></tr></thead>
<tbody><tr><td>Standard delivery</td><td>3–5 working days</td><td>$5.00, free on orders of $50 or more</td></tr>
<tr><td>Express delivery</td><td>1–2 working days</td><td>$15.00</td></tr></tbody></table>
<h2>When your order leaves</h2>
<p>Orders paid before 2 pm leave the same working day. You get an email with the tracking number as soon as
the parcel is handed to the carrier, and you can follow it from <a href="/account/orders/">My orders</a>
or, without an account, from <a href="/orders/lookup/">Find an order</a>.</p>""",
    ),
    (
        "returns",
        "Returns and refunds",
        "help",
        2,
        "Free returns within 30 days, refunded to the card you paid with.",
        """<p>Changed your mind? Send anything back within <strong>30 days</strong> of delivery, unworn and with
its labels, and we refund it in full. Returns are free.</p>
<h2>How to return</h2>
<ol><li>Write to us with your order number (it starts with the letters on your confirmation email).</li>
<li>We send you a prepaid label.</li>
<li>Drop the parcel at any post office.</li></ol>
<h2>Your refund</h2>
<p>We refund to the card you paid with within 5 working days of receiving the parcel; your bank may take a few
more days to show it. Points you earned on a returned item are taken back, and points you spent are given back.</p>""",
    ),
    (
        "payment",
        "Payment",
        "help",
        3,
        "Pay securely by card; we never see or keep your card number.",
        """<p>We take Visa, Mastercard and American Express. Payment is handled by Stripe: your card number goes
straight to them over an encrypted connection and never reaches our servers.</p>
<p>Your card is charged when you place the order. If a payment is declined, your order waits for you: try
another card from the order page.</p>
<h2>Discount codes and points</h2>
<p>Enter a code in your cart. Loyalty points can pay for part of an order: 100 points are worth $1.00.</p>""",
    ),
    (
        "faq",
        "Questions and answers",
        "help",
        4,
        "Answers to what shoppers ask us most.",
        """<details><summary>Do I need an account to order?</summary><p>No: you can check out as a guest and
follow your order with its number and your email. An account keeps your addresses and earns points.</p></details>
<details><summary>Can I change or cancel my order?</summary><p>Until it ships, yes: write to us with the order
number.</p></details>
<details><summary>Can I use two discount codes?</summary><p>One code per order. Some codes replace the automatic
offers on the products they cover; the cart says so when it happens.</p></details>
<details><summary>When do points expire?</summary><p>Points expire 12 months after you earned them; we remind you
by email before they do.</p></details>""",
    ),
    (
        "contact",
        "Contact us",
        "help",
        5,
        "Write or call: we answer within one working day.",
        """<p>Email <a href="mailto:help@example.com">help@example.com</a> or call
<a href="tel:+15550100200">+1 555 0100 200</a>, Monday to Friday, 9 am to 5 pm.</p>
<p>Please give your order number if your question is about an order.</p>""",
    ),
    (
        "about",
        "About us",
        "about",
        1,
        "A small store for good things, fairly priced.",
        """<p>We sell clothing, beauty, home, electronics and outdoor gear we would buy ourselves, at fair prices,
shipped fast, with free returns.</p>""",
    ),
]


def add_pages(apps, schema_editor):
    Page = apps.get_model("pages", "Page")
    for slug, title, group, position, description, body in PAGES:
        Page.objects.get_or_create(
            slug=slug,
            defaults={"title": title, "group": group, "position": position, "description": description, "body": body},
        )


class Migration(migrations.Migration):
    dependencies = [("pages", "0001_initial")]
    operations = [migrations.RunPython(add_pages, migrations.RunPython.noop)]
