"""The OpenAPI schema's error responses.

drf-spectacular documents only the success answer of each operation; a client (and the
schemathesis run in tests/api/test_openapi_conformance.py) also meets DRF's errors. Every
operation here lists the ones it can really give, with the body DRF sends:

- 400 when it takes a body or query parameters: field name -> list of messages
  (``non_field_errors`` for the whole object, nested for nested input), or ``{"detail"}``
  for a body that cannot be read (``FieldErrorsSerializer``);
- 401 (no or bad credentials) and 403 (the role does not allow it): ``{"detail"}``;
- 404 when the path names an object: ``{"detail"}``;
- 429 (too many failed token sign-ins from this address, accounts/throttle.py):
  ``{"detail"}`` with a Retry-After header.

An operation that documents its own body for one of these codes keeps it; one whose 400
has two shapes names both (e.g. ``PolymorphicProxySerializer(serializers=[Its400,
FieldErrorsSerializer], resource_type_field_name=None)``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

ERROR = ResolvedComponent(  # type: ignore[no-untyped-call]
    name="Error",
    type=ResolvedComponent.SCHEMA,
    object="Error",
    schema={
        "type": "object",
        "properties": {"detail": {"type": "string", "description": "What went wrong."}},
        "required": ["detail"],
    },
)


class FieldErrorsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """DRF's 400 body, for the schema only (FieldErrorsExtension says what it holds)."""


class FieldErrorsExtension(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    target_class = FieldErrorsSerializer

    def get_name(self, auto_schema: AutoSchema, direction: Any) -> str:
        return "ValidationError"

    def map_serializer(self, auto_schema: AutoSchema, direction: Any) -> dict[str, Any]:
        return {
            "type": "object",
            "description": (
                'Each field in error with its messages, e.g. {"name": ["This field is '
                'required."]}; "non_field_errors" for the whole object; nested objects for '
                'nested input; "detail" alone for a body that could not be read.'
            ),
            "properties": {"detail": {"type": "string"}},
            "additionalProperties": {"anyOf": [{"type": "array"}, {"type": "object"}]},
        }


def _answer(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}, "description": description}


class KlaxonAutoSchema(AutoSchema):
    def get_operation(
        self,
        path: str,
        path_regex: str,
        path_prefix: str,
        method: str,
        registry: Any,
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        registry.register_on_missing(ERROR)
        error = ERROR.ref
        parameters = operation.get("parameters", [])
        errors: dict[str, dict[str, Any]] = {}
        if "requestBody" in operation or any(p["in"] == "query" for p in parameters):
            field_errors = self.resolve_serializer(FieldErrorsSerializer(), "response").ref
            errors["400"] = _answer(field_errors, "Invalid input; the body names the problem.")
        errors["401"] = _answer(error, "No credentials, or a token that is not valid.")
        errors["403"] = _answer(error, "Your role does not allow this.")
        if any(p["in"] == "path" for p in parameters):
            errors["404"] = _answer(error, "No such object (or not one of yours).")
        errors["429"] = {
            **_answer(error, "Too many failed sign-ins from this address; try again later."),
            "headers": {
                "Retry-After": {
                    "schema": {"type": "integer"},
                    "description": "Seconds until the address may try again.",
                }
            },
        }
        responses: dict[str, Any] = operation["responses"]
        for code, answer in errors.items():
            responses.setdefault(code, answer)
        operation["responses"] = dict(sorted(responses.items()))
        return operation
