"""The OpenAPI schema states the API's error answers, in one place.

`AutoSchema` (settings: REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]) adds to every
operation the 4xx answers it can give, each with the one `Error` body built by
shop.core.api.exception_handler:

- 400 when the operation reads a body or query parameters (they may be invalid);
- 401 on every operation (no token where one is needed, or a token that is not valid);
- 403 where a permission beyond "logged in" applies, and on writes (a session
  without its CSRF token);
- 404 on routes with a path parameter and on paginated lists (a page past the end);
- 429 where the view is throttled;
- and what the view declares in `error_responses`: `{409: "why"}` for all its
  methods, or `{"POST": {409: "why"}}` for one.

An operation's own `@extend_schema(responses=...)` wins for the statuses it names.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
BODY_METHODS = {"POST", "PUT", "PATCH"}
# Permissions that only ask "is anyone logged in": they answer 401, never 403.
LOGIN_ONLY = (permissions.AllowAny, permissions.IsAuthenticated)


class ErrorSerializer(serializers.Serializer):
    """Every 4xx answer of the API."""

    detail = serializers.CharField(help_text="What went wrong, ready to show to the customer.")
    code = serializers.CharField(
        help_text="What went wrong, for programs: invalid, not_found, not_authenticated, permission_denied, "
        "throttled, conflict, insufficient_stock, code_not_applicable..."
    )
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Only when fields are at fault: each field's messages. Nested fields are dotted "
        "(`shipping_address.country`, `lines.0.quantity`); errors about no field in particular are "
        "under `non_field_errors`.",
    )


def error_response(description) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=str(description))


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status_code, description in self._error_statuses().items():
            if str(status_code) not in responses:
                responses[str(status_code)] = self._get_response_for_code(
                    error_response(description), str(status_code), direction=direction
                )
        return dict(sorted(responses.items()))

    def _error_statuses(self) -> dict[int, str]:
        statuses: dict[int, str] = {}
        query = any(p.get("in") == "query" for p in self._get_parameters())
        if self.method in BODY_METHODS or query:
            statuses[400] = _("Something in the request is not valid: `detail` says what, `errors` which field.")
        if self.view.get_authenticators():
            statuses[401] = _("Not logged in, or the token sent is not valid.")
        perms = self.view.get_permissions()
        if self.method in WRITE_METHODS or any(not isinstance(p, LOGIN_ONLY) for p in perms):
            statuses[403] = _("Not allowed: a missing permission, or a session request without its CSRF token.")
        if "{" in self.path or (self._is_list_view() and self._get_paginator()):
            statuses[404] = _("Not found (or not yours), or a page past the last one.")
        if self.view.get_throttles():
            statuses[429] = _("Too many requests: wait and try again.")
        declared = getattr(self.view, "error_responses", {})
        if declared and all(isinstance(key, str) for key in declared):
            declared = declared.get(self.method, {})
        statuses.update({int(code): description for code, description in declared.items()})
        return statuses


def add_stripe_webhook(result, generator, request, public):
    """The Stripe webhook is a plain Django view (Stripe signs it, no token): documented here so that
    it is fuzzed like the rest: anything without a valid signature is a 400, never a 500."""
    detail = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
    result["paths"]["/api/v1/payments/stripe/webhook/"] = {
        "post": {
            "operationId": "payments_stripe_webhook_create",
            "summary": "Stripe's events (signed by Stripe)",
            "tags": ["payments"],
            "security": [],
            "parameters": [
                {"name": "Stripe-Signature", "in": "header", "required": True, "schema": {"type": "string"}}
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
            },
            "responses": {
                "200": {
                    "description": "Processed (or already processed): `detail` says what was done.",
                    "content": {"application/json": {"schema": detail}},
                },
                "400": {
                    "description": "Not a Stripe event, or the signature does not verify.",
                    "content": {"application/json": {"schema": detail}},
                },
            },
        }
    }
    return result
