"""Celery tasks: thin, safe to run twice, each calling a service (docs/campaigns.md, "Sending")."""

from celery import shared_task
from django.conf import settings

from marketing.campaigns import flows, services


@shared_task
def list_recipients(*, campaign_id: int) -> None:
    """One chunk of recipients, then the next chunk as its own task: a listing of 100,000
    customers never holds a worker for long, and a pause stops it between chunks."""
    if services.campaign_list_chunk(campaign_id=campaign_id):
        list_recipients.delay(campaign_id=campaign_id)


@shared_task(rate_limit=f"{settings.CAMPAIGNS_BATCHES_PER_MINUTE}/m")
def send_batch(*, message_ids: list[int]) -> dict:
    return services.batch_send(message_ids=message_ids)


@shared_task
def tick() -> dict:
    """Every minute: scheduled campaigns that are due, A/B decisions, and the sweep."""
    return {
        "started": len(services.campaigns_due()),
        "decided": services.ab_tests_due(),
        "flow_steps": flows.runs_advance(),
        **services.messages_sweep(),
    }


@shared_task
def scan_flows() -> dict:
    """Every half hour: who enters the flows no signal starts (each occasion once, whatever the runs)."""
    return {
        "browse": flows.scan_browse(),
        "birthday": flows.scan_birthdays(),
        "winback": flows.scan_winback(),
        "points_expiry": flows.scan_points_expiry(),
    }
