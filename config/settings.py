"""Bazaar settings: one module, driven by environment variables.

DEBUG is off unless DJANGO_DEBUG=1 asks for it, and with DEBUG off the store refuses
to start without a SECRET_KEY: production fails closed. With DJANGO_DEBUG=1 and nothing
else (`make run`, `make seed` and the tests set it) the store runs embedded: SQLite, a
Celery broker kept in a folder, console email, localstripe on loopback. Production sets
SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, REDIS_URL, the Stripe keys and the email
server (see docs/deploy.md).
"""

import os
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("BAZAAR_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "Set SECRET_KEY (50+ random characters) when DJANGO_DEBUG is off, as it is unless asked for. "
            "On your own machine, for the demo store, set DJANGO_DEBUG=1 instead (make run and make seed do)."
        )
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production-9f8e7d6c5b4a"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "shop.core",
    "shop.accounts",
    "shop.catalog",
    "shop.cart",
    "shop.orders",
    "shop.payments",
    "marketing.discounts",
    "loyalty",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shop.core.context_processors.store",
            ],
        },
    },
]

# Database: SQLite by default; DATABASE_URL (postgres://user:pass@host:port/name) in production.
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # IMMEDIATE takes the write lock when a transaction starts, so two
            # writers queue up instead of failing with "database is locked"
            # halfway through; WAL lets readers go on while one writes.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # Tests use a file too, one per test process: an in-memory database is
            # shared-cache, whose table locks fail at once ("database table is
            # locked") instead of waiting, so concurrent tests would not see the
            # locking production has.
            "TEST": {"NAME": str(Path(tempfile.gettempdir()) / f"bazaar-test-{os.getpid()}.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: Redis in production; on one machine a folder shared by all processes.
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": VAR_DIR / "cache"}
    }

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:profile"
LOGOUT_REDIRECT_URL = "catalog:home"

# Internationalisation: every user-facing string is marked for translation.
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en-us")
LANGUAGES = [("en", _("English")), ("fr", _("French")), ("de", _("German"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Serve uploaded files from Django itself (the embedded store, the benchmark);
# in production a proxy or object storage serves them.
SERVE_MEDIA = env_bool("SERVE_MEDIA", DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Email: the console by default; an SMTP server when EMAIL_HOST is set.
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Bazaar <shop@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if env_str("EMAIL_HOST", ""):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("EMAIL_HOST")
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# Security. Behind a TLS-terminating proxy in production.
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# Celery: Redis in production; with no server, a broker kept in a folder that a
# real worker and beat on the same machine share.
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
if not REDIS_URL:
    _queue = VAR_DIR / "celery" / "queue"
    for _folder in ("queue", "processed", "control"):
        (VAR_DIR / "celery" / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "purge-abandoned-anonymous-carts": {"task": "shop.cart.tasks.purge_stale_carts", "schedule": 6 * 3600},
    "expire-unpaid-orders": {"task": "shop.orders.tasks.expire_unpaid_orders", "schedule": 60},
    "send-pending-order-emails": {"task": "shop.orders.tasks.send_pending_order_emails", "schedule": 120},
    "expire-loyalty-points": {"task": "loyalty.tasks.expire_points", "schedule": 3600},
    "loyalty-catch-up-paid-orders": {"task": "loyalty.tasks.catch_up_orders", "schedule": 3600},
    "queue-points-expiry-reminders": {"task": "loyalty.tasks.queue_expiry_notices", "schedule": 6 * 3600},
    "send-pending-points-reminders": {"task": "loyalty.tasks.send_pending_expiry_notices", "schedule": 600},
    "birthday-points": {"task": "loyalty.tasks.birthday_points", "schedule": 6 * 3600},
    "refresh-loyalty-tiers": {"task": "loyalty.tasks.refresh_tiers", "schedule": 24 * 3600},
}

# Stripe: localstripe on loopback unless real keys are given.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "sk_test_localstripe")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY", "pk_test_localstripe")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "whsec_localstripe")
# Follows the store's PORT (runstore passes both), so stores side by side each have their own.
LOCALSTRIPE_PORT = env_int("LOCALSTRIPE_PORT", env_int("PORT", 8000) + 420)
# None means "talk to Stripe itself"; localstripe when the key is the local one.
STRIPE_API_BASE = (
    env_str(
        "STRIPE_API_BASE",
        f"http://127.0.0.1:{LOCALSTRIPE_PORT}" if STRIPE_SECRET_KEY == "sk_test_localstripe" else "",
    )
    or None
)

# REST API (DESIGN.md section 7).
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes "not logged in" a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Safe by default: every view states who may use it.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "shop.core.api.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "shop.core.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "auth": env_str("THROTTLE_AUTH", "10/minute"),
        "register": env_str("THROTTLE_REGISTER", "20/hour"),
    },
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Bazaar API",
    "DESCRIPTION": "Catalog, cart, checkout and the marketing apps of the Bazaar store.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# The store.
SHOP_NAME = env_str("SHOP_NAME", "Bazaar")
SHOP_CURRENCY = env_str("SHOP_CURRENCY", "USD").upper()
SHOP_PAGE_SIZE = 24
# Catalog pages and API lists are cached this long (0 turns it off); any catalog
# write makes them out of date at once (shop/catalog/cache.py).
SHOP_PAGE_CACHE_SECONDS = env_int("SHOP_PAGE_CACHE_SECONDS", 300)
SHOP_LOW_STOCK = 5
# Rate limits for guessable things: attempts per window, per client.
SHOP_LOGIN_ATTEMPTS = (env_int("SHOP_LOGIN_ATTEMPTS", 10), 15 * 60)
# Anonymous carts untouched for this many days are deleted by a scheduled job.
SHOP_ANONYMOUS_CART_DAYS = env_int("SHOP_ANONYMOUS_CART_DAYS", 30)
# The pricing pipeline (DESIGN.md section 3): adjusters run in this order.
SHOP_PRICE_ADJUSTERS: list[str] = [
    "marketing.discounts.adjusters.DiscountAdjuster",
    "loyalty.adjusters.ReferralWelcomeAdjuster",
    "shop.orders.shipping.ShippingAdjuster",
    "marketing.discounts.adjusters.ShippingDiscountAdjuster",
    "loyalty.adjusters.PointsAdjuster",
]
# Who may show a product at a lower price on product cards, pages and the API (shop/catalog/offers.py).
SHOP_PRODUCT_OFFERS = ["marketing.discounts.offers.AutomaticPromotionOffers"]
# Templates the cart page includes in its summary, in order, under the totals: the seam
# through which other apps add a form to the cart (a discount code, points) without the
# shop knowing them. Each gets the page's context: `cart`, `priced` (the PricedCart),
# `request`, and whatever extra context a view re-rendering the page passes.
SHOP_CART_PANELS: list[str] = ["discounts/cart_code.html", "loyalty/cart_points.html"]
# The same for the account page: each template gets `user` and `request`.
SHOP_ACCOUNT_PANELS: list[str] = ["loyalty/account_panel.html"]
# Wrong discount codes allowed per client and window before a 429 (guessing must not pay).
DISCOUNT_CODE_ATTEMPTS = (env_int("DISCOUNT_CODE_ATTEMPTS", 10), 15 * 60)
# Flat shipping rates in the store currency; "free_over" makes a method free above that merchandise total.
SHOP_SHIPPING_METHODS = {
    "standard": {
        "label": _("Standard delivery (3–5 days)"),
        "price": env_str("SHIPPING_STANDARD", "5.00"),
        "free_over": env_str("SHIPPING_FREE_OVER", "50.00"),
    },
    "express": {"label": _("Express delivery (1–2 days)"), "price": env_str("SHIPPING_EXPRESS", "15.00")},
}
# Unpaid orders expire (and give their stock back) after this many minutes.
SHOP_ORDER_PAYMENT_MINUTES = env_int("SHOP_ORDER_PAYMENT_MINUTES", 60)
# The payment seam (DESIGN.md section 5): one class, chosen here.
SHOP_PAYMENT_GATEWAY = "shop.payments.stripe_gateway.StripeGateway"
# Absolute links in emails.
SHOP_SITE_URL = env_str("SHOP_SITE_URL", "http://127.0.0.1:8000")
# Demo data: each app adds its own, in this order (manage.py seed_demo).
DEMO_SEEDERS = [
    "shop.accounts.demo.seed",
    "shop.catalog.demo.seed",
    "shop.orders.demo.seed",
    "marketing.discounts.demo.seed",
    "loyalty.demo.seed",
]
# Views that exist only for the benchmark (bench/web.py).
BENCH_VIEWS = env_bool("BENCH_VIEWS", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.server": {"level": "WARNING"}} if not DEBUG else {},
}
