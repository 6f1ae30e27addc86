"""factory-boy factories for every app's models."""

import io
from decimal import Decimal

import factory
from django.core.files.base import ContentFile
from PIL import Image

from shop.accounts.models import Address, Profile, User
from shop.cart.models import Cart, CartLine
from shop.catalog.models import Category, Product, ProductImage, Review
from shop.orders.models import Order


def tiny_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 120, 90)).save(out, "JPEG")
    return out.getvalue()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["email"]
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"customer{n}@example.org")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffFactory(UserFactory):
    is_staff = True
    is_superuser = True


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Profile

    user = factory.SubFactory(UserFactory)
    city = "Portland"
    region = "OR"
    country = "US"


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    user = factory.SubFactory(UserFactory)
    full_name = factory.Faker("name")
    line1 = factory.Faker("street_address")
    city = "Portland"
    region = "OR"
    postal_code = "97201"
    country = "US"


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")
    parent = None


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    description = "A fine product."
    category = factory.SubFactory(CategoryFactory)
    price = Decimal("19.99")
    stock = 10
    is_active = True


class ProductImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductImage

    product = factory.SubFactory(ProductFactory)
    image = factory.LazyFunction(lambda: ContentFile(tiny_jpeg(), name="p.jpg"))
    alt_text = "A product photo"


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    product = factory.SubFactory(ProductFactory)
    user = factory.SubFactory(UserFactory)
    rating = 4
    title = "Good"


class CartFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cart

    user = factory.SubFactory(UserFactory)


class CartLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CartLine

    cart = factory.SubFactory(CartFactory)
    product = factory.SubFactory(ProductFactory)
    # The product's single (default) variant unless a test names one.
    variant = factory.LazyAttribute(lambda line: line.product.variants.get())
    quantity = 1


class OrderFactory(factory.django.DjangoModelFactory):
    """An order row as a test of figures needs it (no lines, no Stripe): pass status, totals and dates."""

    class Meta:
        model = Order

    email = factory.LazyAttribute(lambda o: o.user.email if o.user else "buyer@example.org")
    user = None
    status = "paid"
    currency = "USD"
    subtotal = Decimal("10.00")
    total = factory.SelfAttribute("subtotal")
    shipping_method = "standard"
    shipping_name = "Ada"
    shipping_line1 = "1 Main St"
    shipping_city = "Austin"
    shipping_postal_code = "78701"
    shipping_country = "US"
    idempotency_scope = "test"
