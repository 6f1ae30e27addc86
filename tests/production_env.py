"""A production environment that starts (config/production.py), for tests that start the store in a
child process: every outside service named, none reached by `manage.py check`."""

PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "SECRET_KEY": "x" * 20 + "a-long-random-production-secret-0123456789abcdef",
    "ALLOWED_HOSTS": "shop.example.com",
    "DATABASE_URL": "postgres://shop:secret@127.0.0.1:5432/shop",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "STRIPE_SECRET_KEY": "sk_live_realkey123",
    "STRIPE_PUBLISHABLE_KEY": "pk_live_realkey123",
    "STRIPE_WEBHOOK_SECRET": "whsec_realsecret",
    "EMAIL_HOST": "smtp.example.com",
    "SHOP_SITE_URL": "https://shop.example.com",
}
