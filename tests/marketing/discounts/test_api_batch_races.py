"""A code batch filled by two workers at once (a redelivered task, the sweep) still gets exactly its count.

It proves the lock only on PostgreSQL (SQLite serialises every transaction):
    PGPORT_TEST=5439 .ci/with-postgres.sh .venv/bin/pytest tests/marketing/discounts/test_api_batch_races.py -p no:xdist
"""

from decimal import Decimal

import pytest
from django.db import connection

from marketing.discounts import services
from marketing.discounts.models import CodeBatch, Promotion
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_workers_on_one_batch_make_exactly_its_count():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises every transaction, so this race proves nothing there: run it on PostgreSQL")
    promotion = Promotion.objects.create(name="Campaign", kind="percentage", value=Decimal("10"))
    batch = CodeBatch.objects.create(promotion=promotion, count=9000)

    results = run_at_once([lambda: services.code_batch_fill(batch_id=batch.pk) for _ in range(3)])

    batch.refresh_from_db()
    assert {(r.status, r.made) for r in results} == {("done", 9000)}
    assert (batch.status, batch.made, batch.codes.count()) == ("done", 9000, 9000)
