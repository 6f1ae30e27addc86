"""API plumbing shared by every app: pagination and the one exception handler."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from shop.core.errors import ShopError


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


def exception_handler(exc, context):
    if isinstance(exc, ShopError):
        body = {"detail": str(exc.message), "code": exc.code}
        if exc.field:
            # setdefault: a field named like a key of the body ("code", for a discount
            # code) must not hide the error's own code; `detail` carries its message.
            body.setdefault(exc.field, [str(exc.message)])
        return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        # A model's full_clean() reached the API: still a 400, never a 500.
        return Response({"detail": " ".join(exc.messages), "code": "invalid"}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
