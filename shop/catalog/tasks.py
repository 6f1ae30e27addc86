from celery import shared_task

from shop.catalog import csv_io, services


@shared_task
def run_product_import(*, job_id: int) -> str | None:
    """Import one stored CSV file (an ImportJob) in batches; a second delivery does nothing."""
    job = csv_io.import_job_run(job_id=job_id)
    return job.status if job else None


@shared_task
def sweep_product_imports() -> int:
    """Scheduled: imports whose task never ran are queued again; those whose worker died are closed."""
    return csv_io.import_jobs_sweep()


@shared_task
def refresh_rating_prior() -> str | None:
    """Scheduled: the store-wide mean rating becomes the prior of every product's score."""
    prior = services.rating_prior_refresh()
    return str(prior.mean) if prior else None
