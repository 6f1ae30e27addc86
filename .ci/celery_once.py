"""Once-only sending, with two real Celery workers racing on the same messages.

Run by .ci/celery-once.sh, which starts Redis and the two workers and sets the environment
(REDIS_URL, EMAIL_FILE_PATH, a small CAMPAIGNS_BATCH_SIZE). Here: a small store (consenting
customers and some who never agreed), a campaign to a segment of everyone, started through
campaign_start; as soon as its messages are listed, every batch is queued a second time, on a
second queue that both workers also read, so that the two copies of a batch run at the same
time and claim the same messages; the minute tick runs a few times. Then every consenting
customer must have exactly one email and every message must be sent. The figures are printed;
any failure exits with 1.

Usage: python .ci/celery_once.py WORKER_LOG [WORKER_LOG...]
"""

import ast
import collections
import email
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402

from config.celery import app  # noqa: E402
from marketing.campaigns import services, tasks  # noqa: E402
from marketing.campaigns.models import Campaign, Message, Segment, Variant  # noqa: E402
from shop.accounts.models import Channel, Profile  # noqa: E402
from shop.accounts.services import consent_set  # noqa: E402

CONSENTING = int(os.environ.get("CELERY_ONCE_CUSTOMERS", "300"))
NOT_ASKED = 40  # customers who never agreed to emails: they must get none
WORKERS = 2
COPIES = "copies"  # the second queue (.ci/celery-once.sh starts the workers on both)
TIMEOUT = 45  # seconds for the whole send
SEPARATOR = b"-" * 79 + b"\n"  # between two emails in a file of Django's file backend


def seed() -> tuple[Campaign, set[str], set[str]]:
    User = get_user_model()
    password = make_password(None)  # no one logs in
    users = User.objects.bulk_create(
        User(email=f"customer{i:04d}@example.org", first_name=f"Customer {i}", password=password)
        for i in range(CONSENTING + NOT_ASKED)
    )
    Profile.objects.bulk_create(Profile(user=user) for user in users)
    for user in users[:CONSENTING]:
        consent_set(user=user, channel=Channel.EMAIL, given=True, source="staff")
    segment = Segment.objects.create(name="Everyone", key="everyone")
    campaign = Campaign.objects.create(name="Once only", segment=segment)
    Variant.objects.create(
        campaign=campaign,
        key="a",
        subject="Hello {{ first_name }}",
        body_html='<p>New in the store, {{ first_name }}.</p><p><a href="/catalog/">Have a look</a></p>',
    )
    return campaign, {u.email for u in users[:CONSENTING]}, {u.email for u in users[CONSENTING:]}


def wait_for_workers() -> None:
    deadline = time.monotonic() + 30
    while True:
        replies = app.control.ping(timeout=0.5)
        if len(replies) >= WORKERS:
            print(f"   workers ready: {', '.join(sorted(name for reply in replies for name in reply))}")
            return
        if time.monotonic() > deadline:
            sys.exit(f"FAILED: {len(replies)} of {WORKERS} Celery workers answered within 30 s (see the worker logs).")
        time.sleep(0.2)


def busy_tasks(broker: redis.Redis) -> int:
    """Tasks waiting in the queue, reserved by a worker or running."""
    waiting = broker.llen("celery") + broker.llen(COPIES)
    inspect = app.control.inspect(timeout=0.5, limit=WORKERS)
    held = sum(len(v) for v in (inspect.active() or {}).values()) + sum(
        len(v) for v in (inspect.reserved() or {}).values()
    )
    return waiting + held


def send(campaign: Campaign) -> tuple[float, str]:
    """Start the campaign, queue each batch again, tick; wait until nothing is left. The seconds
    taken, and what went wrong if it did not end."""
    started = time.monotonic()
    services.campaign_start(campaign=campaign)
    while Campaign.objects.filter(pk=campaign.pk, listed_at=None).exists():  # the listing task, on a worker
        if time.monotonic() - started > TIMEOUT:
            return time.monotonic() - started, "the campaign's recipients were not listed in time"
        time.sleep(0.01)
    # The batches as the listing queued them (by id, CAMPAIGNS_BATCH_SIZE at a time), each once more.
    ids = list(Message.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True))
    size = settings.CAMPAIGNS_BATCH_SIZE
    for start in range(0, len(ids), size):
        tasks.send_batch.apply_async(kwargs={"message_ids": ids[start : start + size]}, queue=COPIES)
    print(f"   {len(ids)} messages listed; each of their {-(-len(ids) // size)} batches queued a second time")
    broker = redis.Redis.from_url(settings.REDIS_URL)
    ticks = quiet = idle = 0
    shown, shown_at = None, 0.0
    while True:
        elapsed = time.monotonic() - started
        if ticks < 3 and elapsed > ticks:
            tasks.tick.delay()
            ticks += 1
        figures = collections.Counter(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
        open_ = figures[Message.Status.QUEUED] + figures[Message.Status.SENDING]
        busy = busy_tasks(broker)
        line = (
            f"sent {figures[Message.Status.SENT]}, queued {figures[Message.Status.QUEUED]}, "
            f"sending {figures[Message.Status.SENDING]}, tasks in hand {busy}"
        )
        if line != shown or elapsed - shown_at > 5:
            print(f"   {elapsed:4.1f}s  {line}")
            shown, shown_at = line, elapsed
        quiet, idle = (quiet + 1, 0) if not open_ else (0, idle + 1)
        if ticks < 3 or busy:
            quiet = idle = 0
        if quiet == 2:  # twice in a row: nothing open, nothing queued or running
            return elapsed, ""
        if idle == 6:  # about 3 s
            return elapsed, f"no task is left, yet {open_} messages are still queued or sending"
        if elapsed > TIMEOUT:
            return elapsed, f"messages still open or tasks still running after {TIMEOUT} s"
        time.sleep(0.5)


def emails_to(folder: Path) -> collections.Counter:
    """How many emails each address got, from the files of Django's file backend."""
    to: collections.Counter = collections.Counter()
    for path in folder.glob("*"):
        for raw in path.read_bytes().split(SEPARATOR):
            if raw.strip():
                for address in email.message_from_bytes(raw).get_all("To", []):
                    to[address.strip().lower()] += 1
    return to


def worker_figures(logs: list[str]) -> tuple[list[tuple[int, int]], int]:
    """Per worker: batches run and messages sent; and how many batches ran at the same time as their
    copy (some of their messages sent, others already taken by the copy)."""
    done = re.compile(r"Task marketing\.campaigns\.tasks\.send_batch\[[^]]+\] succeeded in [\d.]+s: (\{.*\})")
    per_worker, met = [], 0
    for log in logs:
        batches = sent = 0
        for line in Path(log).read_text().splitlines():
            match = done.search(line)
            if match:
                outcome = ast.literal_eval(match.group(1))
                batches += 1
                sent += outcome.get("sent", 0)
                met += bool(outcome.get("sent")) and bool(outcome.get("not due or taken"))
        per_worker.append((batches, sent))
    return per_worker, met


def main() -> int:
    logs = sys.argv[1:]
    print(f"-- a store of {CONSENTING} customers who agreed to emails and {NOT_ASKED} who did not")
    campaign, consenting, not_asked = seed()
    wait_for_workers()
    print("-- the campaign, started through campaign_start")
    seconds, unfinished = send(campaign)

    to = emails_to(Path(settings.EMAIL_FILE_PATH))
    statuses = collections.Counter(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
    campaign.refresh_from_db()
    duplicates = sum(n - 1 for n in to.values() if n > 1)
    missing = consenting - set(to)
    unasked = set(to) & not_asked
    strangers = set(to) - consenting - not_asked
    per_worker, met = worker_figures(logs)

    print(
        f"-- recipients {len(consenting)}, emails {sum(to.values())}, duplicates={duplicates}, "
        f"missing {len(missing)}, to customers who did not agree {len(unasked)}, seconds {seconds:.1f}"
    )
    print(f"   messages: {dict(sorted(statuses.items()))}; campaign {campaign.status}")
    for n, (batches, sent) in enumerate(per_worker, 1):
        print(f"   worker {n}: {batches} batches, {sent} emails")
    print(f"   batches that ran while their copy did (the two split its messages): {met}")

    problems = [unfinished] if unfinished else []
    if duplicates:
        twice = sorted(address for address, n in to.items() if n > 1)
        problems.append(f"{duplicates} emails sent twice or more (to {len(twice)} customers, e.g. {twice[:3]})")
    if missing:
        problems.append(f"{len(missing)} consenting customers got no email (e.g. {sorted(missing)[:3]})")
    if unasked or strangers:
        problems.append(f"{len(unasked | strangers)} emails to customers who did not agree or are unknown")
    if statuses[Message.Status.SENT] != len(consenting) or len(statuses) != 1:
        problems.append(f"messages should be {len(consenting)} sent, are {dict(statuses)}")
    if campaign.status != Campaign.Status.SENT:
        problems.append(f"the campaign should be sent, is {campaign.status}")
    if sum(sent for _batches, sent in per_worker) != sum(to.values()):
        problems.append("the workers' logs and the emails written do not agree on how many were sent")
    if problems:
        print("FAILED: " + "; ".join(problems))
        return 1
    print("-- once only: every consenting customer got exactly one email")
    return 0


if __name__ == "__main__":
    sys.exit(main())
