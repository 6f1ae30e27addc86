"""Check an API answer against /api/v1/schema/ in-process: its status is documented and its body conforms.

The fuzzing in CI (.ci/fuzz-api.sh) does this for generated requests; the tests here do it for the
cases they build on purpose.
"""

import re
from functools import cache

import jsonschema
from django.test import Client


@cache
def schema() -> dict:
    return Client().get("/api/v1/schema/", {"format": "json"}).json()


def _template(path: str) -> str:
    """The schema's path for a concrete one: /api/v1/products/teapot/ -> /api/v1/products/{slug}/."""
    path = path.split("?")[0]
    paths = schema()["paths"]
    if path in paths:  # /listings/mine/ is itself, not /listings/{id}/
        return path
    for candidate in paths:
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(candidate)) + "$"
        if re.match(pattern, path):
            return candidate
    raise AssertionError(f"{path} is not in the schema")


def _json_schema(node):
    """OpenAPI 3.0 to JSON Schema: $refs inlined, `nullable` as a null type."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        return _json_schema(schema()["components"]["schemas"][name])
    out = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def response_schema(method: str, path: str, status: int) -> dict:
    responses = schema()["paths"][_template(path)][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {path}: {status} is not documented ({sorted(responses)})"
    content = responses[str(status)].get("content", {})
    return _json_schema(content["application/json"]["schema"]) if content else {}


def assert_conforms(response, method: str = None, path: str = None):
    """The answer's status is documented for the operation, and its JSON body matches the schema."""
    method = method or response.request["REQUEST_METHOD"]
    path = path or response.request["PATH_INFO"]
    expected = response_schema(method, path, response.status_code)
    if expected:
        assert response["Content-Type"].startswith("application/json")
        jsonschema.validate(response.json(), expected)
    return response
