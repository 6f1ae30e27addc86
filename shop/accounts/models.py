from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email):
        # Customers log in with their email, in whatever case they type it.
        return (email or "").strip().lower()

    def create_user(self, email, password=None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, email):
        return self.get(email=self.normalize_email(email))


class User(AbstractUser):
    """A customer or a member of staff; both log in with their email."""

    username = None
    email = models.EmailField(_("email address"), unique=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["email"]

    def save(self, *args, **kwargs):
        self.email = UserManager.normalize_email(self.email)
        super().save(*args, **kwargs)

    def __str__(self):
        return self.email


phone_validator = RegexValidator(
    r"^\+[1-9][0-9]{7,14}$", _("Enter the number in international form, with + and the country code: +14155550100.")
)


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    NONBINARY = "nonbinary", _("Non-binary")


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    gender = models.CharField(_("gender"), max_length=16, choices=Gender.choices, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True, help_text=_("State, province or county."))
    country = models.CharField(_("country"), max_length=2, blank=True, help_text=_("ISO 3166 code, e.g. US."))
    # For text messages: a number in international form (+14155550100), kept apart from
    # the delivery addresses' phones, which are for the carrier.
    phone = models.CharField(_("mobile phone"), max_length=16, blank=True, validators=[phone_validator])
    # What the customer does in the store may be tied to their account (personal figures and
    # recommendations). Without it their visits are still counted, but carry no identifier.
    analytics_consent = models.BooleanField(_("personalised shopping"), default=False)
    analytics_consent_at = models.DateTimeField(_("personalisation allowed at"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")
        indexes = [models.Index(fields=["country", "region"])]

    def __str__(self):
        return str(self.user)


class Address(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="addresses")
    full_name = models.CharField(_("full name"), max_length=150)
    line1 = models.CharField(_("address line 1"), max_length=200)
    line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100)
    region = models.CharField(_("region"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20)
    country = models.CharField(_("country"), max_length=2)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    is_default = models.BooleanField(_("default address"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        ordering = ["-is_default", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(is_default=True), name="one_default_address_per_user"),
        ]

    def __str__(self):
        return ", ".join(p for p in [self.full_name, self.line1, self.city, self.country] if p)


class Channel(models.TextChoices):
    """The ways the store may send a customer marketing: each needs its own consent."""

    EMAIL = "email", _("email")
    SMS = "sms", _("text messages")
    PUSH = "push", _("browser notifications")
    ONSITE = "onsite", _("messages in the store")


class ConsentSource(models.TextChoices):
    REGISTRATION = "registration", _("registration form")
    PROFILE = "profile", _("account page")
    API = "api", _("API")
    UNSUBSCRIBE = "unsubscribe", _("unsubscribe link")
    PREFERENCES = "preferences", _("preferences page")
    STAFF = "staff", _("staff")
    IMPORTED = "imported", _("imported")
    ERASURE = "erasure", _("account erased")


class Consent(models.Model):
    """A customer's current answer for one channel. No row means never asked, which means no."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    given = models.BooleanField(_("given"), default=False)
    changed_at = models.DateTimeField(_("changed at"))

    class Meta:
        verbose_name = _("marketing consent")
        verbose_name_plural = _("marketing consents")
        constraints = [models.UniqueConstraint(fields=["user", "channel"], name="one_consent_per_channel")]
        indexes = [models.Index(fields=["channel", "given"], name="accounts_consent_channel")]

    def __str__(self):
        return f"{self.user_id} {self.channel}: {'yes' if self.given else 'no'}"


class ConsentChange(models.Model):
    """The evidence: each change of a consent, when, through what and the words the customer saw.

    Append-only: rows are added by shop.accounts.services.consent_set and never edited.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consent_changes")
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    given = models.BooleanField(_("given"))
    at = models.DateTimeField(_("at"))
    source = models.CharField(_("through"), max_length=16, choices=ConsentSource.choices)
    wording = models.TextField(_("wording shown"), blank=True)

    class Meta:
        verbose_name = _("consent change")
        verbose_name_plural = _("consent changes")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "-at"], name="accounts_consent_change_user")]

    def __str__(self):
        return f"{self.user_id} {self.channel} {'given' if self.given else 'withdrawn'} {self.at:%Y-%m-%d %H:%M}"


class Erasure(models.Model):
    """A customer's account was erased (shop/accounts/privacy.py): when, and at whose request.

    It holds no personal data: the account's id (the row stays, anonymised, so that the orders
    kept for the books still point at it), the moment and who asked. `staff` is the member of
    staff who erased it from the admin, accountable for it; empty when the customer asked.
    """

    class By(models.TextChoices):
        SELF = "self", _("the customer")
        STAFF = "staff", _("staff")

    customer_id = models.PositiveBigIntegerField(_("customer id"), unique=True)
    at = models.DateTimeField(_("erased at"))
    by = models.CharField(_("requested by"), max_length=5, choices=By.choices)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("erasure")
        verbose_name_plural = _("erasures")
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"#{self.customer_id} ({self.get_by_display()})"
