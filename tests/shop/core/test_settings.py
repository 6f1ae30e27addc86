"""Production settings come from the environment and pass Django's deployment checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_fraction, env_int, env_list
from tests.production_env import PRODUCTION_ENV as BASE_ENV

ROOT = Path(__file__).resolve().parents[3]
PRODUCTION_ENV = {**BASE_ENV, "STRIPE_SECRET_KEY": "sk_test_realkey123", "STRIPE_PUBLISHABLE_KEY": "pk_test_realkey123"}


def _clean_environ() -> dict[str, str]:
    """This process's environment without any setting (the test run itself sets DJANGO_DEBUG=1)."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in PRODUCTION_ENV and k != "DJANGO_SETTINGS_MODULE" and not k.startswith("BAZAAR_")
    }


def _manage(*args, env):
    return _run([sys.executable, "manage.py", *args], env=env)


def _run(argv, *, env):
    return subprocess.run(
        argv,
        cwd=ROOT,
        env={**_clean_environ(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_passes_the_deployment_checks_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_uses_postgres_redis_and_real_stripe_from_the_environment():
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CACHES['default']['BACKEND'], s.CELERY_BROKER_URL,"
        " s.STRIPE_API_BASE, s.EMAIL_BACKEND, s.SESSION_COOKIE_SECURE)"
    )
    result = _manage("shell", "-c", code, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    engine, cache, broker, stripe_base, email, secure_cookie = result.stdout.strip().splitlines()[-1].split()
    assert engine == "django.db.backends.postgresql"
    assert cache == "django.core.cache.backends.redis.RedisCache"
    assert broker == "redis://127.0.0.1:6379/0"
    assert stripe_base == "None"  # the real Stripe, not localstripe
    assert email == "django.core.mail.backends.smtp.EmailBackend"
    assert secure_cookie == "True"


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_with_no_environment_at_all_it_is_production_so_it_refuses_to_start_and_says_what_to_set():
    result = _manage("check", env={})
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr
    assert "BAZAAR_DEMO=1" in result.stderr  # the way to the demo store


def test_debug_is_off_unless_asked_for():
    code = "from django.conf import settings as s; print(s.DEBUG, s.ALLOWED_HOSTS)"
    result = _manage("shell", "-c", code, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False ['shop.example.com']"

    result = _manage("shell", "-c", code, env={"DJANGO_DEBUG": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True ['127.0.0.1', 'localhost']"


def test_the_demo_store_runs_embedded_without_debugging():
    code = "from django.conf import settings as s; print(s.DEBUG, s.EMBEDDED, s.ALLOWED_HOSTS, s.SECURE_SSL_REDIRECT)"
    result = _manage("shell", "-c", code, env={"BAZAAR_DEMO": "1"})
    assert result.returncode == 0, result.stderr
    # Django's debug pages are off (the store's own error pages show), everything else is the demo's.
    assert result.stdout.strip().splitlines()[-1] == "False True ['127.0.0.1', 'localhost'] False"


def test_make_run_and_make_seed_ask_for_the_demo_store_not_for_debugging():
    result = _run(["make", "-n", "run", "seed"], env={})
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "runstore" in line or "seed_demo" in line]
    assert len(lines) == 2, result.stdout
    assert all("BAZAAR_DEMO=1" in line and "DJANGO_DEBUG" not in line for line in lines), lines


def test_the_test_suite_needs_no_environment_variables():
    pytest_bin = str(Path(sys.executable).with_name("pytest"))
    argv = [pytest_bin, "-p", "pytest_django.plugin", "--collect-only", "-q", "tests/shop/core/test_settings.py"]
    result = _run(argv, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})  # start-up time: only pytest-django is needed
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_debug_is_off_unless_asked_for" in result.stdout


def test_it_rejects_a_boolean_it_cannot_read(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG='maybe' is not a boolean"):
        env_bool("SOME_FLAG", False)


def test_it_reads_booleans_numbers_and_lists(monkeypatch):
    monkeypatch.setenv("A_FLAG", "off")
    monkeypatch.setenv("A_NUMBER", "42")
    monkeypatch.setenv("A_LIST", "a.example.com, b.example.com,")
    assert env_bool("A_FLAG", True) is False
    assert env_int("A_NUMBER", 0) == 42
    assert env_list("A_LIST", []) == ["a.example.com", "b.example.com"]
    monkeypatch.setenv("A_NUMBER", "forty")
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env_int("A_NUMBER", 0)


@pytest.mark.parametrize("raw", ["1.5", "-0.1", "high"])
def test_a_fraction_outside_0_to_1_stops_the_start_with_what_to_write(monkeypatch, raw):
    monkeypatch.setenv("A_FRACTION", raw)
    with pytest.raises(ImproperlyConfigured, match="not a number from 0 to 1"):
        env_fraction("A_FRACTION", 0.5)


def test_a_fraction_is_read(monkeypatch):
    assert env_fraction("A_FRACTION", 0.55) == 0.55
    monkeypatch.setenv("A_FRACTION", "0.7")
    assert env_fraction("A_FRACTION", 0.55) == 0.7


# --- production fails closed (config/production.py) ---------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["DATABASE_URL", "REDIS_URL", "STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "SHOP_SITE_URL", "EMAIL_HOST"]
)
def test_production_refuses_to_start_without_each_outside_service_and_says_what_to_set(name):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != name}

    result = _manage("check", env=env)

    assert result.returncode != 0
    assert "missing what production needs" in result.stderr
    assert name in result.stderr and "docs/deploy.md" in result.stderr


def test_with_only_a_key_and_hosts_it_lists_every_gap_at_once():
    env = {"SECRET_KEY": PRODUCTION_ENV["SECRET_KEY"], "ALLOWED_HOSTS": "shop.example.com"}

    result = _manage("check", env=env)

    assert result.returncode != 0
    for name in ("DATABASE_URL", "REDIS_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "SHOP_SITE_URL"):
        assert f"Set {name}" in result.stderr
    assert "EMAIL_HOST" in result.stderr


@pytest.mark.parametrize(
    ("changed", "said"),
    [
        ({"SECRET_KEY": "dev-only-insecure-key-never-use-in-production-9f8e7d6c5b4a"}, "the demo store's key"),
        ({"SECRET_KEY": "changeme"}, "SECRET_KEY is too weak"),
        ({"SECRET_KEY": "a" * 60}, "SECRET_KEY is too weak"),
        ({"ALLOWED_HOSTS": "*"}, "never '*'"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must name"),
        ({"SHOP_SITE_URL": "http://shop.example.com"}, "must start with https://"),
        ({"STRIPE_WEBHOOK_SECRET": "whsec_localstripe"}, "public localstripe demo value"),
    ],
)
def test_production_refuses_demo_weak_or_open_values(changed, said):
    result = _manage("check", env={**PRODUCTION_ENV, **changed})

    assert result.returncode != 0
    assert said in result.stderr


def test_the_key_and_the_hosts_are_checked_even_with_local_stand_ins():
    result = _manage("check", env={**PRODUCTION_ENV, "BAZAAR_LOCAL_SERVICES": "1", "SECRET_KEY": "changeme"})
    assert result.returncode != 0 and "SECRET_KEY is too weak" in result.stderr


def test_local_stand_ins_run_production_settings_on_one_machine_only_when_asked():
    env = {
        "DJANGO_DEBUG": "0",
        "SECRET_KEY": PRODUCTION_ENV["SECRET_KEY"],
        "ALLOWED_HOSTS": "127.0.0.1",
        "BAZAAR_LOCAL_SERVICES": "1",
    }
    code = (
        "from django.conf import settings as s;"
        "print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.STRIPE_SECRET_KEY, s.EMAIL_BACKEND)"
    )
    result = _manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == [
        "False",
        "django.db.backends.sqlite3",
        "filesystem://",
        "sk_test_localstripe",
        "django.core.mail.backends.console.EmailBackend",
    ]


def test_a_database_url_that_is_not_one_is_a_readable_refusal_without_the_password():
    result = _manage("check", env={**PRODUCTION_ENV, "DATABASE_URL": "postgresql+psycopg://shop:hunter2@db/shop"})

    assert result.returncode != 0
    assert "DATABASE_URL is not a database address" in result.stderr
    assert "hunter2" not in result.stderr


def test_on_your_own_machine_links_follow_the_stores_port():
    code = "from django.conf import settings as s; print(s.SHOP_SITE_URL)"
    result = _manage("shell", "-c", code, env={"BAZAAR_DEMO": "1", "PORT": "8236"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "http://127.0.0.1:8236"


@pytest.mark.parametrize(
    ("changed", "said"),
    [
        (
            {"ANYMAIL_ESP": "mailgnu", "ANYMAIL_API_KEY": "key", "ANYMAIL_WEBHOOK_SECRET": "u:p"},
            "ANYMAIL_ESP='mailgnu'",
        ),
        ({"ANYMAIL_ESP": "mailgun", "ANYMAIL_WEBHOOK_SECRET": "u:p"}, "ANYMAIL_API_KEY is required"),
        ({"CAMPAIGNS_SMS_BACKEND": "marketing.campaigns.channels.sms.Twilio"}, "names no backend"),
        ({"CAMPAIGNS_PUSH_BACKEND": "marketing.campaigns.channels.push.Webpush"}, "names no backend"),
    ],
)
def test_an_email_service_or_channel_that_names_nothing_stops_the_start(changed, said):
    result = _manage("check", env={**PRODUCTION_ENV, **changed})

    assert result.returncode != 0
    assert said in result.stderr


def test_a_known_email_service_with_its_key_starts():
    env = {**PRODUCTION_ENV, "ANYMAIL_ESP": "mailgun", "ANYMAIL_API_KEY": "key-1", "ANYMAIL_WEBHOOK_SECRET": "u:p"}
    result = _manage("check", env=env)
    assert result.returncode == 0, result.stderr
