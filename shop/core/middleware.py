"""A database busy with someone else's write answers 503 with Retry-After, never a 500.

On SQLite one writer holds the database at a time; a request that waits longer
than the connection's timeout gets "database is locked" (PostgreSQL: a lock
timeout). That is the store being busy, not broken: the shopper is asked to try
again in a few seconds, and API clients get the documented error shape.
"""

import logging
import sys

from django.core.signals import got_request_exception
from django.db import OperationalError
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
BUSY_MESSAGES = ("database is locked", "database table is locked")
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout ran out


def is_database_busy(exc: BaseException) -> bool:
    if not isinstance(exc, OperationalError):
        return False
    if any(text in str(exc) for text in BUSY_MESSAGES):
        return True
    return getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE


class DatabaseBusyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "_database_busy", False) and response.status_code == 500:
            # Raised by a middleware inside this one (the session saved on the way out): Django
            # already made it a 500, which noted_busy_database() below recognised.
            return busy_response(request)
        return response

    def process_exception(self, request, exception):
        """Raised by a view: answered here, before Django makes it a 500."""
        if not is_database_busy(exception):
            return None
        logger.warning("Database busy on %s %s: %s", request.method, request.path, exception)
        return busy_response(request)


@receiver(got_request_exception, dispatch_uid="core_database_busy")
def noted_busy_database(sender, request=None, **kwargs):
    """Sent while Django turns an exception into a 500: remember when it was a busy database."""
    exception = sys.exc_info()[1]
    if request is not None and exception is not None and is_database_busy(exception):
        request._database_busy = True


def busy_response(request) -> HttpResponse:
    message = _("The store is very busy right now. Please try again in a few seconds.")
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse({"detail": message, "code": "busy"}, status=503)
    else:
        try:
            body = render_to_string("503.html", {"message": message, "retry_after": RETRY_AFTER_SECONDS}, request)
        except Exception:  # the page must not fail because the database is busy: plain text then
            logger.exception("Could not render 503.html")
            body = message
        response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
