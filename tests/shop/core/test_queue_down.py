"""The Celery broker not answering never fails a request: the work is written down, the request
answers, staff are told, and each task's scheduled sweep takes the work later."""

import logging

import pytest
from celery.app.task import Task
from django.urls import reverse
from kombu.exceptions import OperationalError

from shop.catalog import csv_io
from shop.core.queue import enqueue
from tests.factories import CategoryFactory
from tests.shop.catalog.test_csv_admin import HEADER, IMPORT, rows, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(Task, "delay", refuse)


def test_enqueue_says_false_and_logs_when_the_broker_is_down(broker_down, caplog):
    from shop.orders.tasks import send_order_email

    with caplog.at_level(logging.WARNING, logger="shop.core.queue"):
        assert enqueue(send_order_email, email_id=1) is False
    assert "its scheduled sweep will do it" in caplog.text


def test_a_big_product_import_waits_for_its_sweep(
    monkeypatch, admin_client, broker_down, django_capture_on_commit_callbacks
):
    from shop.catalog.models import ImportJob

    CategoryFactory(name="Clothing", slug="clothing")
    monkeypatch.setattr(csv_io, "BACKGROUND_ROWS", 3)  # 5 rows: a background job
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(IMPORT, {"file": upload(HEADER + rows(5), name="spring.csv")})

    assert response.status_code in (200, 302)
    assert list(ImportJob.objects.values_list("status", flat=True)) == ["queued"]  # the sweep runs it


def test_building_recommendations_now_says_the_queue_is_down(admin_client, broker_down):
    response = admin_client.post(reverse("admin:recommendations_build_now"), follow=True)
    assert response.status_code == 200
    assert "The task queue is not answering" in response.content.decode()


def test_placing_members_again_says_the_queue_is_down(admin_client, broker_down):
    response = admin_client.post(reverse("admin:loyalty_tier_reassign"), follow=True)
    assert response.status_code == 200
    assert "The task queue is not answering: nothing was started" in response.content.decode()


def test_a_campaign_started_while_the_broker_is_down_is_listed_by_the_tick(
    broker_down, monkeypatch, django_capture_on_commit_callbacks
):
    from marketing.campaigns import services, tasks
    from tests.marketing.campaigns.helpers import campaign, customer, segment

    customer("ada@example.org")
    started = campaign(segment())
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_start(campaign=started)  # the admin's "Send now": no exception reaches the request

    started.refresh_from_db()
    assert started.status == "sending" and started.listed_at is None
    monkeypatch.undo()  # the broker is back
    with django_capture_on_commit_callbacks(execute=True):
        tasks.tick()
    started.refresh_from_db()
    assert started.messages.count() == 1
