"""Bazaar settings: one module, driven by environment variables.

The store runs in production unless asked otherwise, and then refuses to start without what
production needs (config/production.py): production fails closed. BAZAAR_DEMO=1 asks for the demo store on your own
machine (`make run` and `make seed` set it): a built-in key, SQLite, a Celery broker kept in
a folder, console email, localstripe on loopback, the store's own error pages.
DJANGO_DEBUG=1 is the same with Django's debugging on (its error pages list the site's
URLs and settings: for developers; the tests set it, and Django's test runner turns the
debugging itself off). Production sets
SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, REDIS_URL, the Stripe keys and the email
server (see docs/deploy.md).
"""

import ipaddress
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config import production
from config.env import env_bool, env_fraction, env_int, env_list, env_str
from config.release import code_digest

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("BAZAAR_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
# The embedded demo store (see above): everything local, nothing secret. Debugging implies it.
EMBEDDED = DEBUG or env_bool("BAZAAR_DEMO", False)

SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not EMBEDDED:
        raise ImproperlyConfigured(
            "Set SECRET_KEY (50+ random characters): the store runs in production unless asked otherwise. "
            "On your own machine, for the demo store, set BAZAAR_DEMO=1 instead (make run and make seed do)."
        )
    SECRET_KEY = production.DEMO_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if EMBEDDED else [])
# Production fails closed (config/production.py): the database, Redis, Stripe, email and the site's
# address named, a strong key of its own, real hosts; every gap listed at once, none filled by a demo value.
if not EMBEDDED and (_missing := production.problems(os.environ, allowed_hosts=ALLOWED_HOSTS)):
    raise ImproperlyConfigured(production.refusal(_missing))
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "shop.core.admin_apps.StoreAdminConfig",  # Django's admin with the store's home page (shop/core/admin_site.py)
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
    "axes",
    "anymail",
    "shop.core",
    "shop.accounts",
    "shop.catalog",
    "shop.cart",
    "shop.orders",
    "shop.payments",
    "shop.pages",
    "marketing.discounts",
    "marketing.analytics",
    "marketing.recommendations",
    "marketing.adboard",
    "marketing.campaigns",
    "marketing.assistant",
    "loyalty",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "shop.core.csp.StoreCSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "shop.core.middleware.DatabaseBusyMiddleware",  # a locked database answers 503 + Retry-After, not 500
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Gathers what a request tells the tracking seam; hands it over after the response (shop/core/tracking.py).
    "shop.core.tracking.TrackingMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a login that django-axes locked into a 429 (shop/accounts/lockout.py).
    "axes.middleware.AxesMiddleware",
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
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
    except ValueError as exc:  # dj_database_url's UnknownSchemeError is one
        raise ImproperlyConfigured(
            f"DATABASE_URL is not a database address ({exc}): write it as postgres://user:pass@host:5432/name."
        ) from None
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
    # Room for every product's card and page (the catalog caches per product): past MAX_ENTRIES
    # the folder cache drops a third of its files at random. Django's file cache, checking whether
    # it is full every 200 writes rather than on each (shop/core/cache.py).
    CACHES = {
        "default": {
            "BACKEND": "shop.core.cache.FolderCache",
            "LOCATION": VAR_DIR / "cache",
            "OPTIONS": {"MAX_ENTRIES": env_int("CACHE_MAX_ENTRIES", 10_000)},
        }
    }
# Entries made by another release of the code are never read (config/release.py).
CACHES["default"]["KEY_PREFIX"] = env_str("RELEASE", "") or code_digest(BASE_DIR)

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked login before any password is checked (django-axes).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
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
SERVE_MEDIA = env_bool("SERVE_MEDIA", EMBEDDED)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if EMBEDDED
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# The demo store serves its static files through WhiteNoise straight from the apps' folders
# (production serves what collectstatic gathered).
WHITENOISE_USE_FINDERS = EMBEDDED

# Email: the console by default; an SMTP server when EMAIL_HOST is set; with EMAIL_FILE_PATH, a
# file per connection in that folder (CI counts what a campaign sent: .ci/celery-once.sh).
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Bazaar <shop@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if env_str("EMAIL_HOST", ""):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("EMAIL_HOST")
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
elif env_str("EMAIL_FILE_PATH", ""):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH")
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# An email service through django-anymail (amazon_ses, mailgun, postmark, sendgrid, brevo...):
# it sends, and its webhook at /marketing/esp/<service>/tracking/ reports bounces and complaints.
# The webhook's shared secret is required: without it anyone could suppress any address.
ANYMAIL_ESP = env_str("ANYMAIL_ESP", "")
if ANYMAIL_ESP:
    EMAIL_BACKEND = f"anymail.backends.{ANYMAIL_ESP}.EmailBackend"
    ANYMAIL = {
        f"{ANYMAIL_ESP.upper()}_API_KEY": env_str("ANYMAIL_API_KEY", ""),
        "WEBHOOK_SECRET": env_str("ANYMAIL_WEBHOOK_SECRET", ""),
    }
    try:
        __import__(f"anymail.backends.{ANYMAIL_ESP}")
    except ImportError:
        raise ImproperlyConfigured(
            f"ANYMAIL_ESP={ANYMAIL_ESP!r} is not an email service django-anymail knows (or its library is not "
            "installed): write its name as in anymail.backends (amazon_ses, mailgun, postmark, sendgrid, brevo...)."
        ) from None
    if not ANYMAIL[f"{ANYMAIL_ESP.upper()}_API_KEY"] and ANYMAIL_ESP != "amazon_ses":  # SES signs with AWS's own
        raise ImproperlyConfigured(f"ANYMAIL_API_KEY is required with ANYMAIL_ESP={ANYMAIL_ESP}: the service's key.")
    if not ANYMAIL["WEBHOOK_SECRET"]:
        raise ImproperlyConfigured(
            "ANYMAIL_WEBHOOK_SECRET is required with ANYMAIL_ESP: set it to 'user:password' and give the same "
            "to the email service's webhook, so that only it can report bounces and complaints."
        )

# Sessions live in the database and are read through the cache (Redis in production): a
# logged-in page reads its session without a query, and a cache flush loses no one's session.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# Security. Behind a TLS-terminating proxy in production.
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "shop.core.views.csrf_failure"
if not EMBEDDED:
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
    "retry-due-refunds": {"task": "shop.payments.tasks.retry_due_refunds", "schedule": 300},
    "expire-loyalty-points": {"task": "loyalty.tasks.expire_points", "schedule": 3600},
    "loyalty-catch-up-paid-orders": {"task": "loyalty.tasks.catch_up_orders", "schedule": 3600},
    "queue-points-expiry-reminders": {"task": "loyalty.tasks.queue_expiry_notices", "schedule": 6 * 3600},
    "send-pending-points-reminders": {"task": "loyalty.tasks.send_pending_expiry_notices", "schedule": 600},
    "birthday-points": {"task": "loyalty.tasks.birthday_points", "schedule": 6 * 3600},
    "refresh-loyalty-tiers": {"task": "loyalty.tasks.refresh_tiers", "schedule": 24 * 3600},
    # Closed orders whose discount-code release never ran give their codes back.
    "release-missed-discount-codes": {"task": "marketing.discounts.tasks.release_missed_codes", "schedule": 600},
    "sweep-product-imports": {"task": "shop.catalog.tasks.sweep_product_imports", "schedule": 600},
    # The store-wide mean rating, the prior of every product's Bayesian score.
    "refresh-rating-prior": {"task": "shop.catalog.tasks.refresh_rating_prior", "schedule": 3600},
    # The analytics dashboards' daily figures: days not built yet, and the last two again.
    "build-analytics-figures": {"task": "marketing.analytics.tasks.build_figures", "schedule": 3600},
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
# Production fails closed on Stripe: outside the demo store, real keys need a real webhook secret,
# and the public demo key works only against a localstripe on loopback. The same rules run
# as `manage.py check --deploy` (shop/payments/checks.py says why).
if not EMBEDDED:
    from shop.payments.checks import stripe_settings_problems

    _stripe_problems = stripe_settings_problems(
        secret_key=STRIPE_SECRET_KEY,
        publishable_key=STRIPE_PUBLISHABLE_KEY,
        webhook_secret=STRIPE_WEBHOOK_SECRET,
        api_base=STRIPE_API_BASE,
    )
    if _stripe_problems:
        raise ImproperlyConfigured(" ".join(message for _id, message in _stripe_problems))

# Content-Security-Policy (django-csp): every page, the admin and the API docs included, runs
# scripts and styles only from this site's files, so an injected <script>, onclick= or
# style= does nothing. shop.core.csp adds the origins of Stripe.js (localstripe's stand-in
# offline, Stripe's own with real keys). NONCE is used by one page only, the API docs,
# whose Swagger UI settings are an inline script (templates/drf_spectacular/swagger_ui.html);
# pages that do not ask for a nonce send none. docs/architecture.md, "Security headers".
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# REST API (docs/architecture.md, "The API").
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
    # Documents each operation's 4xx answers, all in the one error shape (shop/core/schema.py).
    "DEFAULT_SCHEMA_CLASS": "shop.core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "shop.core.api.exception_handler",
    # DRF's, but JSON nested thousands deep is a 400, not a 500 (shop/core/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "shop.core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Throttles key on the store's client address (shop/core/ratelimit.py throttle classes);
    # 0 makes any plain DRF throttle use REMOTE_ADDR rather than a header the client sets.
    "NUM_PROXIES": 0,
    "DEFAULT_THROTTLE_RATES": {
        "auth": env_str("THROTTLE_AUTH", "10/minute"),
        # The search box's suggestions as an anonymous client types (shop/catalog/api.py)
        "suggest": env_str("THROTTLE_SUGGEST", "120/minute"),
        # Members' helpful votes and reports on product reviews (shop/catalog/api.py, views.py)
        "review_votes": env_str("THROTTLE_REVIEW_VOTES", "60/hour"),
        "review_reports": env_str("THROTTLE_REVIEW_REPORTS", "20/hour"),
        # Members' writes on the ad board: posts, edits, messages, ratings, reports (marketing/adboard/api.py)
        "adboard": env_str("THROTTLE_ADBOARD", "60/minute"),
        # Messages to the shopping assistant, per client (marketing/assistant/api.py)
        "assistant": env_str("THROTTLE_ASSISTANT", "30/minute"),
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
    # The Stripe webhook is a plain view: documented by a hook so that the API fuzzing covers it.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "shop.core.schema.add_stripe_webhook"],
    # Choice sets used by several fields: one name each in the schema.
    "ENUM_NAME_OVERRIDES": {
        "CustomerTraitEnum": "marketing.analytics.dashboards.TRAIT_CHOICES",
        "CustomerSegmentEnum": "marketing.analytics.models.Segment",
        "CampaignStatusEnum": "marketing.campaigns.models.CampaignStatus",
        "OrderStatusEnum": "shop.orders.models.OrderStatus",
        "ForecastMethodEnum": "marketing.analytics.dashboards.METHOD_CHOICES",
    },
}

# The store.
SHOP_NAME = env_str("SHOP_NAME", "Bazaar")
SHOP_CURRENCY = env_str("SHOP_CURRENCY", "USD").upper()
SHOP_PAGE_SIZE = 24
# Catalog pages and API lists are cached this long (0 turns it off), per product card and
# page; a catalog write makes what shows it out of date at once (shop/catalog/cache.py).
SHOP_PAGE_CACHE_SECONDS = env_int("SHOP_PAGE_CACHE_SECONDS", 300)
SHOP_LOW_STOCK = 5
# Pictures customers send (review photos, ads' photos): each at most this many bytes, checked
# by content and re-drawn without metadata (shop/core/uploads.py). A request carries at most
# DATA_UPLOAD_MAX_NUMBER_FILES files; the proxy in front should allow bodies of 8 x this size.
SHOP_UPLOAD_MAX_BYTES = env_int("SHOP_UPLOAD_MAX_BYTES", 8 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FILES = 10
# Product reviews (docs/architecture.md, "Reviews"): False publishes at once and moderators act on
# reports (post-moderation); True holds every new or edited review until a moderator approves it.
SHOP_REVIEWS_PREMODERATION = env_bool("SHOP_REVIEWS_PREMODERATION", False)
# This many members' reports hide a published review until a moderator decides.
SHOP_REVIEW_REPORTS_TO_HIDE = env_int("SHOP_REVIEW_REPORTS_TO_HIDE", 3)
# Pictures a review may carry.
SHOP_REVIEW_PHOTOS = env_int("SHOP_REVIEW_PHOTOS", 3)
# A product's rating is the Bayesian average (C·m + sum of stars) / (m + reviews): m, the prior's
# weight in reviews, and C, the prior mean: a number here, or (unset) the store-wide mean of published
# reviews, recomputed by the `refresh-rating-prior` task.
SHOP_RATING_PRIOR_WEIGHT = env_int("SHOP_RATING_PRIOR_WEIGHT", 10)
_prior_mean = env_str("SHOP_RATING_PRIOR_MEAN", "")
try:
    SHOP_RATING_PRIOR_MEAN = float(_prior_mean) if _prior_mean else None
except ValueError:
    SHOP_RATING_PRIOR_MEAN = 0.0  # refused just below
if SHOP_RATING_PRIOR_MEAN is not None and not 1 <= SHOP_RATING_PRIOR_MEAN <= 5:
    raise ImproperlyConfigured(f"SHOP_RATING_PRIOR_MEAN must be a number from 1 to 5 or unset, not {_prior_mean!r}.")
# Who the client is, for every limit below (docs/deploy.md, "Behind a proxy"): the proxies
# between the internet and the app, outermost first, one entry per hop, each an IP or a CIDR
# network, e.g. "127.0.0.1" for one nginx on the same machine. Empty: the connection's address
# (REMOTE_ADDR) is the client and X-Forwarded-For is ignored.
SHOP_TRUSTED_PROXIES = env_list("SHOP_TRUSTED_PROXIES", [])
for _proxy in SHOP_TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"SHOP_TRUSTED_PROXIES: {_proxy!r} is not an IP address or a CIDR network."
        ) from None
# One login lockout (django-axes) for the storefront, /admin/login/ and the API token:
# SHOP_LOGIN_ATTEMPTS failures for one account, or from one client, lock it for
# SHOP_LOGIN_LOCKOUT_MINUTES; staff unlock in the admin (shop/accounts/lockout.py).
AXES_FAILURE_LIMIT = env_int("SHOP_LOGIN_ATTEMPTS", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SHOP_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "shop.core.ratelimit.client_ip"
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "shop.accounts.lockout.username_from"
AXES_LOCKOUT_CALLABLE = "shop.accounts.lockout.lockout_response"
AXES_HANDLER = "shop.accounts.lockout.LockoutHandler"
AXES_RESET_ON_SUCCESS = True
# A locked login stays locked for the cool-off from the last counted failure; tries made
# while locked do not push the end further (the message can say when it ends).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_DISABLE_ACCESS_LOG = True  # successful logins are not logged, failures are counted
AXES_ENABLE_ADMIN = False  # shop/accounts/admin.py registers failed attempts with an unlock action
AXES_VERBOSE = False
# Sign-ups (page and API together) per client, and password-reset requests per client and
# per email address (so one inbox cannot be flooded), each per hour.
SHOP_REGISTRATIONS_PER_CLIENT = (env_int("SHOP_REGISTRATIONS_PER_HOUR", 20), 3600)
SHOP_PASSWORD_RESETS_PER_CLIENT = (env_int("SHOP_PASSWORD_RESETS_PER_HOUR", 10), 3600)
SHOP_PASSWORD_RESETS_PER_EMAIL = (env_int("SHOP_PASSWORD_RESETS_PER_EMAIL_PER_HOUR", 3), 3600)
# Downloads of a customer's own data (page and API together), per account and hour.
SHOP_DATA_EXPORTS_PER_ACCOUNT = (env_int("SHOP_DATA_EXPORTS_PER_HOUR", 5), 3600)
# Erasure requests (each checks the password), per account and hour.
SHOP_ERASURES_PER_ACCOUNT = (env_int("SHOP_ERASURE_ATTEMPTS_PER_HOUR", 10), 3600)
# Anonymous carts untouched for this many days are deleted by a scheduled job.
SHOP_ANONYMOUS_CART_DAYS = env_int("SHOP_ANONYMOUS_CART_DAYS", 30)
# The pricing pipeline (docs/architecture.md, "Pricing adjusters"): adjusters run in this order.
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
SHOP_ACCOUNT_PANELS: list[str] = ["loyalty/account_panel.html", "adboard/account_panel.html"]
# What the store holds about a customer, app by app (docs/privacy.md): each class exports its part of
# the customer's download and erases it when the account is erased, in this order, in one transaction.
SHOP_ACCOUNT_DATA: list[str] = [
    "shop.accounts.privacy.AccountData",
    "shop.orders.privacy.OrderData",
    "shop.cart.privacy.CartData",
    "shop.catalog.privacy.ReviewData",
    "loyalty.privacy.LoyaltyData",
    "marketing.adboard.privacy.BoardData",
    "marketing.analytics.privacy.AnalyticsData",
    "marketing.campaigns.privacy.CampaignData",
    "marketing.assistant.privacy.AssistantData",
]
# The same for an order's confirmation page: each template gets `order` and `request`.
SHOP_ORDER_PANELS: list[str] = ["loyalty/order_points.html"]
# Shelves: templates each page shows below its main content (the home page under its category tiles,
# a product's page above its reviews), from the apps that extend the store. Each gets `request` and
# the page's own: `product_id` (product), `product_ids` (cart: the cart's products), `order` (order).
SHOP_SHELVES: dict[str, list[str]] = {
    "home": ["recommendations/home.html"],
    "product": ["recommendations/product.html"],
    "cart": ["recommendations/cart.html"],
    "order": ["recommendations/order.html"],
}
# The admin home's figures (shop/core/admin_home.py): functions of the request returning Figures, each app
# its own, each showing only what the user may see.
SHOP_ADMIN_HOME_FIGURES = [
    "shop.orders.admin_home.figures",
    "shop.catalog.admin_home.figures",
    "marketing.discounts.admin_home.figures",
    "loyalty.admin_home.figures",
    "marketing.adboard.admin_home.figures",
]
# The admin's apps in the order staff use them; any other (tokens, login attempts...) after these.
SHOP_ADMIN_APP_ORDER = [
    "orders", "catalog", "adboard", "discounts", "campaigns", "recommendations", "loyalty", "analytics", "assistant",
    "accounts", "payments", "pages",
]  # fmt: skip
# What an order's adjustment references mean to staff ("2|SPRING10" is a code of promotion 2): functions
# of a list of OrderAdjustments returning {adjustment id: readable text} for those they know.
SHOP_ADJUSTMENT_REFERENCES = ["marketing.discounts.admin_home.references", "loyalty.admin_home.references"]
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
# Limits against stock hoarding, as unpaid orders hold stock (docs/deploy.md, "Limits"); 0 turns a limit off.
# Unpaid orders that still hold stock, at once, per customer account and per email address...
SHOP_MAX_OPEN_ORDERS = env_int("SHOP_MAX_OPEN_ORDERS", 3)
# ...and per client address (higher: one office or mobile network shares an address).
SHOP_MAX_OPEN_ORDERS_PER_CLIENT = env_int("SHOP_MAX_OPEN_ORDERS_PER_CLIENT", 5)
# Orders placed per client address and window (web and API), then 429.
SHOP_CHECKOUT_RATE = (env_int("SHOP_CHECKOUT_RATE", 20), 3600)
# Promotion code batches: up to this many are made at once in the request; more run in the
# background (a CodeBatch job, downloaded when ready); above the hard maximum, a 400.
DISCOUNT_CODE_BATCH_SYNC_MAX = env_int("DISCOUNT_CODE_BATCH_SYNC_MAX", 1_000)
DISCOUNT_CODE_BATCH_MAX = env_int("DISCOUNT_CODE_BATCH_MAX", 100_000)
CELERY_BEAT_SCHEDULE["resume-stalled-code-batches"] = {
    "task": "marketing.discounts.tasks.resume_code_batches",
    "schedule": 600,
}
# Unpaid orders expire (and give their stock back) after this many minutes.
SHOP_ORDER_PAYMENT_MINUTES = env_int("SHOP_ORDER_PAYMENT_MINUTES", 60)
# The payment seam (docs/architecture.md, "The payment gateway"): one class, chosen here.
SHOP_PAYMENT_GATEWAY = "shop.payments.stripe_gateway.StripeGateway"
# Absolute links in emails and messages (required in production, config/production.py); on your own
# machine, the store's own PORT, as runstore passes it, so two stores side by side link to themselves.
SHOP_SITE_URL = env_str("SHOP_SITE_URL", f"http://127.0.0.1:{env_int('PORT', 8000)}")
# Scripts every storefront page loads (static path, and the endpoint they talk to), from the apps that
# extend the pages: shop templates name no app. The analytics script reports what only the browser knows.
SHOP_PAGE_SCRIPTS = [{"src": "analytics/track.js", "endpoint": "/analytics/collect/"}]
# Templates every storefront page includes at the end of its body, from the apps that extend the pages
# (the assistant's chat launcher): shop templates name no app.
SHOP_PAGE_INCLUDES: list[str] = ["assistant/launcher.html"]
# Analytics (marketing/analytics): the store's day for every figure, how long a visit lasts without a
# request, and when recording steps aside (a refused or slow write pauses it in that process).
ANALYTICS_RECORDING = env_bool("ANALYTICS_RECORDING", True)
ANALYTICS_TIME_ZONE = env_str("ANALYTICS_TIME_ZONE", TIME_ZONE)
ANALYTICS_VISIT_MINUTES = env_int("ANALYTICS_VISIT_MINUTES", 30)
ANALYTICS_SLOW_WRITE_MS = env_int("ANALYTICS_SLOW_WRITE_MS", 250)
ANALYTICS_PAUSE_SECONDS = env_int("ANALYTICS_PAUSE_SECONDS", 30)
# Requests' events are written together, one INSERT for many (marketing/analytics/recorder.py): when this
# many are waiting, or this many seconds after the first, and when the process exits. One at a time while
# developing (and in the tests), so that an event is in the table as soon as its response is sent.
ANALYTICS_BATCH_SIZE = env_int("ANALYTICS_BATCH_SIZE", 1 if EMBEDDED else 50)
ANALYTICS_BATCH_SECONDS = env_int("ANALYTICS_BATCH_SECONDS", 5)
# How far ahead the customers dashboard predicts each customer's value (months).
ANALYTICS_CLV_MONTHS = env_int("ANALYTICS_CLV_MONTHS", 12)
# Panels other apps add to the Marketing dashboard: functions of (start, end) returning a plain dict
# (marketing/discounts/panels.py says what), so an app adds its panel without editing analytics.
ANALYTICS_PANELS = [
    "marketing.discounts.panels.promotions",
    "loyalty.panels.points",
    "marketing.recommendations.figures.shelves",
    "marketing.campaigns.panels.campaigns",
    "marketing.assistant.panels.assistant",
]
# Daily figures other apps add to the rollups for their panels: functions of (first day, last day, time
# zone) yielding (day, measure, dimension, key, value); a panel reads them back with its `figures` argument.
ANALYTICS_DAILY_SOURCES = [
    "marketing.discounts.panels.daily_figures",
    "marketing.recommendations.figures.daily_figures",
    "marketing.campaigns.panels.daily_figures",
]
# Recommendations (marketing/recommendations, docs/recommendations.md): what each kind of interaction
# weighs in the similar-items tables, how fast it fades (half-life in days), how far back the build
# reads, and how many neighbours it keeps per product.
RECOMMENDATIONS_WEIGHTS = {"purchase": 5.0, "add_to_cart": 3.0, "view_item": 1.0}
RECOMMENDATIONS_HALF_LIFE_DAYS = env_int("RECOMMENDATIONS_HALF_LIFE_DAYS", 120)
RECOMMENDATIONS_HISTORY_DAYS = env_int("RECOMMENDATIONS_HISTORY_DAYS", 365)
RECOMMENDATIONS_NEIGHBOURS = env_int("RECOMMENDATIONS_NEIGHBOURS", 30)
# Trending: interactions of the last days, the most recent weighing most.
RECOMMENDATIONS_TRENDING_DAYS = env_int("RECOMMENDATIONS_TRENDING_DAYS", 7)
CELERY_BEAT_SCHEDULE["build-recommendations"] = {
    "task": "marketing.recommendations.tasks.build",
    "schedule": env_int("RECOMMENDATIONS_BUILD_SECONDS", 6 * 3600),
}
# Requests that are never page views (and whose own facts are still recorded).
ANALYTICS_UNTRACKED_PATHS = ["/admin/", "/api/", "/static/", "/media/", "/bench/", "/analytics/", "/health"]
# Demo data: each app adds its own, in this order (manage.py seed_demo).
DEMO_SEEDERS = [
    "shop.accounts.demo.seed",
    "shop.catalog.demo.seed",
    "shop.orders.demo.seed",
    "shop.catalog.demo.seed_reviews_after_orders",  # verified purchases, votes, the moderation queue
    "marketing.discounts.demo.seed",
    "loyalty.demo.seed",
    "marketing.adboard.demo.seed",  # the board: ads, photos, conversations and ratings of the demo customers
    "marketing.analytics.demo.seed",  # visits for the orders the others made, then the daily figures
    "marketing.campaigns.demo.seed",  # a year of newsletters and flows, following the visits above
    "marketing.recommendations.demo.seed",  # built from the orders and visits above
    # Last: its conversations read the catalog, the orders and the points above, its suggestions the
    # recommendations; a customer's chat comes the day before one of their orders.
    "marketing.assistant.demo.seed",
]
# Views that exist only for the benchmark (bench/web.py).
BENCH_VIEWS = env_bool("BENCH_VIEWS", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.server": {"level": "WARNING"}} if not EMBEDDED else {},
}

# The ad board (docs/adboard.md).
# New ads wait for a moderator (False: they go live at once unless an automatic flag holds them).
ADBOARD_PREMODERATION = env_bool("ADBOARD_PREMODERATION", True)
ADBOARD_MAX_ACTIVE_ADS = env_int("ADBOARD_MAX_ACTIVE_ADS", 20)  # waiting, published or hidden, per member
ADBOARD_MAX_PHOTOS = 8
ADBOARD_AD_DAYS = env_int("ADBOARD_AD_DAYS", 30)  # an ad is shown this long, then expires (renewable)
ADBOARD_REMINDER_DAYS = 3  # the expiry reminder goes out this many days before
ADBOARD_REPORTS_TO_HIDE = env_int("ADBOARD_REPORTS_TO_HIDE", 3)  # reports that hide an ad, message or rating
ADBOARD_MAX_SAVED_SEARCHES = 20
# A seller's shown rating: their stars plus this many imaginary ratings of this mean (Bayesian).
ADBOARD_RATING_PRIOR = (5, "3.5")
# Flags: a price more than this factor above or below the category's median (given this many ads).
ADBOARD_PRICE_FACTOR = 5
ADBOARD_PRICE_SAMPLE = 5
ADBOARD_ADS_PER_HOUR = (5, 3600)  # more ads than this in an hour are flagged
ADBOARD_MESSAGES_PER_HOUR = (env_int("ADBOARD_MESSAGES_PER_HOUR", 30), 3600)
CELERY_BEAT_SCHEDULE["adboard-send-emails"] = {"task": "marketing.adboard.tasks.send_pending_notices", "schedule": 120}
CELERY_BEAT_SCHEDULE["adboard-expire-ads"] = {"task": "marketing.adboard.tasks.expire_ads", "schedule": 3600}
CELERY_BEAT_SCHEDULE["adboard-expiry-reminders"] = {
    "task": "marketing.adboard.tasks.remind_expiring_ads",
    "schedule": 3600,
}
CELERY_BEAT_SCHEDULE["adboard-saved-search-alerts"] = {
    "task": "marketing.adboard.tasks.saved_search_alerts",
    "schedule": 900,
}

# Campaigns, flows and their channels (docs/campaigns.md).
DISCOUNTS_SEGMENTS = "marketing.campaigns.segments"  # who answers a promotion's "only for a segment"
CAMPAIGNS_BATCH_SIZE = env_int("CAMPAIGNS_BATCH_SIZE", 500)  # messages per sending task
CAMPAIGNS_LIST_CHUNK = 2000  # recipients written per listing task
# Sending tasks per minute per worker: with the batch size, the most a worker sends a minute.
CAMPAIGNS_BATCHES_PER_MINUTE = env_int("CAMPAIGNS_BATCHES_PER_MINUTE", 30)
# No customer gets more than this many marketing messages in this many hours, all channels together.
CAMPAIGNS_FREQUENCY_CAP = (env_int("CAMPAIGNS_FREQUENCY_CAP", 3), env_int("CAMPAIGNS_FREQUENCY_HOURS", 72))
# No SMS or push between these hours (store time); email waits too when CAMPAIGNS_QUIET_EMAIL.
CAMPAIGNS_QUIET_HOURS = (env_int("CAMPAIGNS_QUIET_FROM", 21), env_int("CAMPAIGNS_QUIET_UNTIL", 8))
CAMPAIGNS_QUIET_EMAIL = env_bool("CAMPAIGNS_QUIET_EMAIL", False)
CAMPAIGNS_SMS_BACKEND = env_str("CAMPAIGNS_SMS_BACKEND", "marketing.campaigns.channels.sms.ConsoleBackend")
CAMPAIGNS_PUSH_BACKEND = env_str("CAMPAIGNS_PUSH_BACKEND", "marketing.campaigns.channels.push.ConsoleBackend")
CAMPAIGNS_FROM_EMAIL = env_str("CAMPAIGNS_FROM_EMAIL", DEFAULT_FROM_EMAIL)
CELERY_BEAT_SCHEDULE["campaigns-tick"] = {"task": "marketing.campaigns.tasks.tick", "schedule": 60}
CELERY_BEAT_SCHEDULE["campaigns-scan-flows"] = {"task": "marketing.campaigns.tasks.scan_flows", "schedule": 1800}

# Campaign channels: SMS and web push (docs/channels.md). CAMPAIGNS_SMS_BACKEND and
# CAMPAIGNS_PUSH_BACKEND above choose the backends; the console ones print what they would send.
# Twilio (CAMPAIGNS_SMS_BACKEND=marketing.campaigns.channels.sms.TwilioBackend): the account, its
# token, and the sender: a number of the account (+E.164) or a Messaging Service's SID (MG…).
CAMPAIGNS_TWILIO_ACCOUNT_SID = env_str("CAMPAIGNS_TWILIO_ACCOUNT_SID", "")
CAMPAIGNS_TWILIO_AUTH_TOKEN = env_str("CAMPAIGNS_TWILIO_AUTH_TOKEN", "")
CAMPAIGNS_TWILIO_FROM = env_str("CAMPAIGNS_TWILIO_FROM", "")
# Web push: the VAPID key pair (`manage.py vapid_keys`) and a contact for the push services
# (mailto:… or https://…). Without a public key the account page offers no notifications.
CAMPAIGNS_VAPID_PUBLIC_KEY = env_str("CAMPAIGNS_VAPID_PUBLIC_KEY", "")
CAMPAIGNS_VAPID_PRIVATE_KEY = env_str("CAMPAIGNS_VAPID_PRIVATE_KEY", "")
CAMPAIGNS_VAPID_SUBJECT = env_str("CAMPAIGNS_VAPID_SUBJECT", "")
# A browser offline for longer than this (seconds) never gets the notification.
CAMPAIGNS_PUSH_TTL = env_int("CAMPAIGNS_PUSH_TTL", 24 * 3600)
# The push services a browser's subscription may point at (host names and their subdomains):
# the store's workers post to that address, so nothing else is accepted.
CAMPAIGNS_PUSH_SERVICES = env_list(
    "CAMPAIGNS_PUSH_SERVICES",
    [
        "fcm.googleapis.com",  # Chrome, Edge on Android, Opera, Samsung Internet, Brave
        "updates.push.services.mozilla.com",  # Firefox
        "push.apple.com",  # Safari (web.push.apple.com)
        "notify.windows.com",  # Edge on Windows
    ],
)
# Turning notifications on or off in a browser, per account (push_views.py).
CAMPAIGNS_PUSH_CHANGES_PER_ACCOUNT = (env_int("CAMPAIGNS_PUSH_CHANGES_PER_HOUR", 20), 3600)
# The notifications panel on the account page.
SHOP_ACCOUNT_PANELS = ["campaigns/onsite_panel.html", *SHOP_ACCOUNT_PANELS, "campaigns/push_panel.html"]
# A provider chosen without its credentials would fail every message, and only when a campaign
# goes out: the store refuses to start instead (marketing/campaigns/channels/checks.py).
from marketing.campaigns.channels.checks import channel_settings_problems  # noqa: E402  (after the values it checks)

_channel_problems = channel_settings_problems(
    sms_backend=CAMPAIGNS_SMS_BACKEND,
    push_backend=CAMPAIGNS_PUSH_BACKEND,
    twilio_account_sid=CAMPAIGNS_TWILIO_ACCOUNT_SID,
    twilio_auth_token=CAMPAIGNS_TWILIO_AUTH_TOKEN,
    twilio_from=CAMPAIGNS_TWILIO_FROM,
    vapid_public_key=CAMPAIGNS_VAPID_PUBLIC_KEY,
    vapid_private_key=CAMPAIGNS_VAPID_PRIVATE_KEY,
    vapid_subject=CAMPAIGNS_VAPID_SUBJECT,
)
if _channel_problems:
    raise ImproperlyConfigured(" ".join(_channel_problems))

# The shopping assistant (marketing/assistant, docs/assistant.md): below this confidence a sentence is
# "not understood" and the assistant offers choices instead of guessing.
ASSISTANT_CONFIDENCE = env_fraction("ASSISTANT_CONFIDENCE", 0.55)
# An external language model to read what the matcher could not: a dotted path to a callable, off by default.
ASSISTANT_LANGUAGE_MODEL = os.environ.get("ASSISTANT_LANGUAGE_MODEL", "")
# Telegram (marketing/assistant/telegram.py, docs/assistant.md, "In a messaging app"): off unless the
# webhook's secret is set.
# The store answers the shopper's messages in the webhook's response; the token is used only to send
# staff answers to a hand-over (sendMessage; unset, they wait). A token without a secret would answer
# 404 to every update, and refuses to start instead.
ASSISTANT_TELEGRAM_BOT_TOKEN = env_str("ASSISTANT_TELEGRAM_BOT_TOKEN", "")
ASSISTANT_TELEGRAM_SECRET = env_str("ASSISTANT_TELEGRAM_SECRET", "")
# Messages one Telegram chat may send the assistant: (count, seconds).
ASSISTANT_TELEGRAM_MESSAGES_PER_CHAT = (env_int("ASSISTANT_TELEGRAM_MESSAGES_PER_MINUTE", 20), 60)
from marketing.assistant.telegram_checks import telegram_settings_problems  # noqa: E402  (after the values it checks)

_telegram_problems = telegram_settings_problems(
    bot_token=ASSISTANT_TELEGRAM_BOT_TOKEN, secret=ASSISTANT_TELEGRAM_SECRET
)
if _telegram_problems:
    raise ImproperlyConfigured(" ".join(_telegram_problems))
# Conversations with no message for this many days lose their words and their owner (the figures stay).
ASSISTANT_KEEP_DAYS = env_int("ASSISTANT_KEEP_DAYS", 365)
CELERY_BEAT_SCHEDULE["assistant-forget-old"] = {
    "task": "marketing.assistant.tasks.forget_old_conversations",
    "schedule": 6 * 3600,
}
# Staff answers to hand-overs whose email or Telegram task never ran go out with these sweeps.
CELERY_BEAT_SCHEDULE["assistant-send-answers"] = {
    "task": "marketing.assistant.tasks.send_pending_ticket_emails",
    "schedule": 300,
}
CELERY_BEAT_SCHEDULE["assistant-send-telegram-answers"] = {
    "task": "marketing.assistant.tasks.send_pending_telegram_answers",
    "schedule": 300,
}
