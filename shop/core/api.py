"""API plumbing shared by every app: pagination and the one exception handler.

Every 4xx answer of the API has one shape, documented as the `Error` component
(shop/core/schema.py):

    {"detail": "What went wrong, ready to show.", "code": "invalid", "errors": {"field": ["message", ...]}}

`detail` and `code` are always there; `errors` only when fields are at fault. The
handler below builds it from our ShopErrors, Django's ValidationError and DRF's
own exceptions (whose validation errors would otherwise be a bare `{field: [..]}`).
"""

import logging

from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from shop.core.errors import ShopError

NON_FIELD = "non_field_errors"
log = logging.getLogger(__name__)


class Pagination(PageNumberPagination):
    page_size = 24
    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            # DRF's own message ("Invalid page.") does not say what to do.
            raise NotFound(_("That page does not exist: pages run from 1 to the last page in 'count'.")) from None


def error_body(detail, code: str, errors: dict[str, list[str]] | None = None) -> dict:
    """The one shape of an API error (the schema's `Error` component)."""
    body = {"detail": str(detail), "code": code}
    if errors:
        body["errors"] = errors
    return body


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested validation errors as {"field": [...], "lines.0.quantity": [...]}."""
    if isinstance(detail, dict):
        items = detail.items()
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        # A list serializer's errors: one entry per item, {} for the items that were fine.
        items = ((str(i), item) for i, item in enumerate(detail))
    else:
        messages = detail if isinstance(detail, list) else [detail]
        return {prefix or NON_FIELD: [str(m) for m in messages]}
    flat: dict[str, list[str]] = {}
    for key, value in items:
        for name, messages in _flatten(value, f"{prefix}.{key}" if prefix else str(key)).items():
            flat.setdefault(name, []).extend(messages)
    return {name: messages for name, messages in flat.items() if messages}


def _summary(errors: dict[str, list[str]]) -> str:
    if len(errors) == 1:
        name, messages = next(iter(errors.items()))
        return messages[0] if name == NON_FIELD else f"{name}: {messages[0]}"
    return _("Some fields are not valid: %(fields)s.") % {"fields": ", ".join(errors)}


def _drf_body(exc: APIException) -> dict:
    detail = exc.detail
    if isinstance(detail, dict) or (isinstance(detail, list) and len(detail) != 1):
        # Field errors: the overall code stays the exception's ("invalid"); each field's messages are in `errors`.
        errors = _flatten(detail)
        return error_body(_summary(errors), exc.default_code, errors)
    if isinstance(detail, list):
        detail = detail[0]
    return error_body(detail, getattr(detail, "code", None) or exc.default_code)


def _path_names_nothing(view) -> bool:
    """A path value no row can have: one with a NUL, which PostgreSQL refuses in text. (Django already
    answers "no rows" for an integer beyond its column's range.)"""
    return any("\x00" in str(value) for value in (getattr(view, "kwargs", None) or {}).values())


def _out_of_range(exc, context) -> Response:
    """A value the database cannot hold reached it: the client's input, so a 4xx, never a 500.

    Serializers and forms bound what they accept (lengths, integer ranges, NUL bytes); this is the
    net under them: SQLite raises OverflowError for integers beyond 64 bits, PostgreSQL a DataError
    for a number out of its column's range, a string too long or a NUL in text.
    """
    if _path_names_nothing(context.get("view")):
        return Response(error_body(_("Not found."), "not_found"), status=status.HTTP_404_NOT_FOUND)
    log.warning("Input out of the database's range: %s", exc, exc_info=exc)
    body = error_body(
        _("A value is out of range or too long for what it is: check the numbers and texts sent."), "invalid"
    )
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


def exception_handler(exc, context):
    if isinstance(exc, OverflowError | DataError):
        set_rollback()  # as DRF does for its own errors: a request-wide transaction must not commit
        return _out_of_range(exc, context)
    if isinstance(exc, ShopError):
        message = str(exc.message)
        return Response(
            error_body(message, exc.code, {exc.field: [message]} if exc.field else None), status=exc.status_code
        )
    if isinstance(exc, DjangoValidationError):
        # A model's full_clean() reached the API: still a 400, never a 500.
        errors = None
        if hasattr(exc, "error_dict"):
            errors = {
                NON_FIELD if name == NON_FIELD_ERRORS else name: list(messages)
                for name, messages in exc.message_dict.items()
            }
        body = error_body(" ".join(exc.messages), "invalid", errors)
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, TooManyFilesSent | TooManyFieldsSent | RequestDataTooBig):
        # Django's limits on a form (DATA_UPLOAD_MAX_NUMBER_FILES...) raise these while DRF parses
        # the body; DRF would leave them to become a 500.
        body = error_body(_("The form has too many parts or is too large: send fewer files or fields."), "too_large")
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    # As DRF's own handler does, so that these get the one shape too.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, APIException):
        response.data = _drf_body(exc)
    return response
