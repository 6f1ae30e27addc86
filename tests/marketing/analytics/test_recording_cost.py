"""Recording stays cheap: requests' events are written together, one INSERT for many, and none is
lost on the way (in time, at exit, never twice after a fork). bench/recording.py measures the CPU."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone

from marketing.analytics import recorder
from marketing.analytics.models import Event
from shop.core.tracking import track

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[3]
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


@pytest.fixture(autouse=True)
def recording(settings, transactional_db):
    settings.ANALYTICS_RECORDING = True
    settings.ANALYTICS_BATCH_SIZE = 3
    settings.ANALYTICS_BATCH_SECONDS = 3600  # no timer writes in the middle of a test unless it asks
    recorder._paused_until = 0.0
    yield
    recorder._paused_until = 0.0
    recorder.flush()  # nothing left waiting for the next test, no timer left running


def inserts():
    """A list that fills with the INSERTs into the event log, while `connection.execute_wrapper(...)`."""
    seen = []

    def count(execute, sql, params, many, context):
        if sql.startswith("INSERT") and "analytics_event" in sql:
            seen.append(sql)
        return execute(sql, params, many, context)

    return seen, count


def test_it_writes_several_requests_events_in_one_insert():
    shopper = Client(HTTP_USER_AGENT=AGENT)
    seen, count = inserts()
    with connection.execute_wrapper(count):
        shopper.get("/")
        shopper.get("/")
        assert Event.objects.count() == 0 and seen == []  # two page views waiting for a third
        shopper.get("/products/")  # a page view and the list's view_item_list: four events

    assert len(seen) == 1
    rows = list(Event.objects.order_by("id").values_list("name", "path"))
    assert rows == [
        ("page_view", "/"),
        ("page_view", "/"),
        ("view_item_list", "/products/"),
        ("page_view", "/products/"),
    ]
    assert len(set(Event.objects.values_list("visit", flat=True))) == 1


def test_what_waits_is_written_within_the_batch_seconds(settings):
    settings.ANALYTICS_BATCH_SECONDS = 0.2
    Client(HTTP_USER_AGENT=AGENT).get("/")
    assert Event.objects.count() == 0

    deadline = time.monotonic() + 10
    while not Event.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.05)

    assert list(Event.objects.values_list("name", flat=True)) == ["page_view"]


def test_a_refused_batch_is_dropped_with_its_count_and_recording_pauses(caplog):
    def refuse(execute, sql, params, many, context):
        if sql.startswith("INSERT") and "analytics_event" in sql:
            raise OperationalError("database is locked")
        return execute(sql, params, many, context)

    shopper = Client(HTTP_USER_AGENT=AGENT)
    with connection.execute_wrapper(refuse):
        for _ in range(3):
            assert shopper.get("/").status_code == 200

    assert "Analytics: 3 events dropped (the database refused them" in caplog.text
    assert recorder.paused() and recorder.flush() == 0
    assert Event.objects.count() == 0


def test_facts_told_outside_a_request_are_written_at_once():
    # A task or a command: its process may end without atexit (Celery's pool), so nothing waits.
    track("sign_up")
    assert list(Event.objects.values_list("name", "visit")) == [("sign_up", None)]


def _database_env(tmp_path) -> dict:
    """Settings for another process that point it at this test's database."""
    settings = connection.settings_dict
    env = {**os.environ, "DJANGO_DEBUG": "1", "BAZAAR_VAR_DIR": str(tmp_path)}
    if connection.vendor == "sqlite":
        (tmp_path / "db.sqlite3").symlink_to(settings["NAME"])
        env.pop("DATABASE_URL", None)
    else:
        user, password, host, port = (settings[k] for k in ("USER", "PASSWORD", "HOST", "PORT"))
        env["DATABASE_URL"] = f"postgres://{user}:{password}@{host}:{port}/{settings['NAME']}"
    return env


def test_nothing_waiting_is_lost_when_the_process_exits(tmp_path):
    # As a gunicorn worker leaves (sys.exit on a restart or a shutdown) with events still waiting.
    script = (
        "import sys\n"
        "from django.utils import timezone\n"
        "from marketing.analytics import recorder\n"
        "recorder.queue([recorder.event('page_view', timezone.now(), path='/at-exit/')])\n"
        "assert len(recorder._batch.events) == 1, 'written at once: this test proves nothing'\n"
        "sys.exit(0)\n"
    )
    env = {**_database_env(tmp_path), "ANALYTICS_BATCH_SIZE": "50", "ANALYTICS_BATCH_SECONDS": "3600"}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert list(Event.objects.values_list("name", "path")) == [("page_view", "/at-exit/")]


def test_a_forked_child_starts_with_nothing_waiting():
    recorder.queue([recorder.event("page_view", timezone.now(), path="/parent/")])
    pid = os.fork()
    if pid == 0:  # the child: a gunicorn worker forked from a master that had recorded something
        os._exit(len(recorder._batch.events))
    _pid, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0, "the child would have written the parent's events again"
    assert recorder.flush() == 1
    assert list(Event.objects.values_list("path", flat=True)) == ["/parent/"]
