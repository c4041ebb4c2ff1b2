"""The project's OpenAPI schema class: every operation declares the errors it can answer.

Every API error leaves in one format (`core.errors.error_body`), with a status the request can
really get. drf-spectacular documents only the success a view declares, so a client generated
from the schema knew nothing of a 400, 403 or 404. `QuartermasterAutoSchema` adds, to every
operation, the `Error` body under each status the operation can answer, derived from what the
operation is (not written per view):

- 400: it reads a body, query parameters, headers or a free-form path segment; and every
  operation, since a NUL anywhere in a URL is refused at the edge (core.hygiene);
- 401: the view authenticates (all of ours do: a bad, expired or revoked credential is a 401
  even on a public route, and the public login answers 401 to a wrong password);
- 403: a tenant route (membership and the view's permission), a view that checks permissions,
  or a view that accepts API keys (a key is refused outside tenant routes and outside its IP
  list), which is every view today;
- 404: the path names a tenant or an object, or the list pages (DRF answers 404 to a page past
  the end or a cursor it did not issue);
- 409 and 422: a write (services refuse a write that conflicts with the current state, 409, or
  breaks a rule of the domain, 422: `core.errors.Conflict`, `DomainError`, `LimitExceeded`);
- 415: it takes a body (JSON only);
- 429: the view is throttled (the project's default throttles, or its own), or takes API keys
  (each key has its own rate limit).

A view's own declaration of a status wins (its description, and its body if it gives one); a
status it declares without a body gets the `Error` body, since that is what every error carries.

One correction to drf-spectacular itself: it documents every DELETE as a bodiless 204, even one
that declares and answers a body (a setting's reset answers the setting); such a DELETE is
documented as the 200 it answers.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import is_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.views import APIView

from core.errors import ERROR_TYPES

ERROR_TYPE_CHOICES: list[str] = sorted({family[0] for family in ERROR_TYPES.values()})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TRIVIAL_PERMISSIONS = (AllowAny, IsAuthenticated)


class ErrorSerializer(serializers.Serializer):
    """Every API error: the family, the precise reason, a sentence, and per-field messages."""

    type = serializers.ChoiceField(
        choices=ERROR_TYPE_CHOICES, help_text="The family of the error; follows from the status."
    )
    code = serializers.CharField(help_text="The precise, stable reason (`insufficient_credits`).")
    detail = serializers.CharField(help_text="A sentence for people.")
    # A declared field named like Serializer.errors: DRF's metaclass moves it off the class.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per field (`non_field_errors` for the request as a whole); empty if none.",
    )


def _is_throttled(view_class: type) -> bool:
    """The view's throttles outside tests: its own if it (or a base of ours) sets them, else the
    project's defaults, which are always configured in production."""
    for klass in view_class.__mro__:
        if klass is APIView:
            return True  # the defaults: anonymous and per-user rates
        if "throttle_classes" in vars(klass):
            return bool(vars(klass)["throttle_classes"])
    return True


def _overrides(view_class: type, name: str) -> bool:
    """Whether one of our classes (not DRF's) defines `name`."""
    for klass in view_class.__mro__:
        if klass is APIView:
            return False
        if name in vars(klass):
            return True
    return False


class QuartermasterAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus the error answers of each operation (module docstring)."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        # drf-spectacular (0.30, pinned; this hook is its own, not public) documents every DELETE
        # as a bodiless 204, even one that declares and answers a body, like a setting's reset.
        declared = self.get_response_serializers()
        if self.method == "DELETE" and is_serializer(declared):
            return {"200": self._get_response_for_code(declared, "200", direction=direction)}
        return dict(super()._get_response_bodies(direction))

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses: dict[str, Any] = operation.setdefault("responses", {})
        error_ref = self.resolve_serializer(ErrorSerializer, "response").ref

        def error_content() -> dict[str, Any]:
            return {"application/json": {"schema": dict(error_ref)}}

        generic = {str(status): text for status, text in self.error_statuses(operation).items()}
        for status, description in generic.items():
            responses.setdefault(status, {"content": error_content(), "description": description})
        for status, declared in responses.items():
            # A view's own error declaration (billing's 402, say) keeps its words; the body is ours.
            if status.isdigit() and int(status) >= 400 and not declared.get("content"):
                declared["content"] = error_content()
                declared["description"] = declared.get("description") or generic.get(status, "")
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def error_statuses(self, operation: dict[str, Any]) -> dict[int, str]:
        """The error statuses this operation can answer, each with a generic description."""
        # Imported here: it imports DRF's views, which read the settings this module is named in.
        from core.api import TenantScopedApi

        view = self.view
        view_class = type(view)
        parameters = operation.get("parameters", [])
        path_parameters = [p for p in parameters if p.get("in") == "path"]
        free_path = [p for p in path_parameters if p.get("schema", {}).get("format") != "uuid"]
        takes_input = (
            "requestBody" in operation
            or any(p.get("in") in ("query", "header", "cookie") for p in parameters)
            or bool(free_path)
        )
        authenticators = view.get_authenticators()
        accepts_api_keys = any(getattr(a, "authenticates_api_keys", False) for a in authenticators)
        checks_permissions = any(not isinstance(p, _TRIVIAL_PERMISSIONS) for p in view.get_permissions()) or (
            _overrides(view_class, "check_permissions")
        )
        tenant_scoped = isinstance(view, TenantScopedApi)

        statuses: dict[int, str] = {}
        # Every URL passes the edge rules (core.hygiene): a NUL in any path or query is a 400.
        statuses[400] = (
            "The request is invalid: a field, a parameter or the body (`errors` names them)."
            if takes_input
            else "The URL holds characters that are not allowed (a NUL in the path or query)."
        )
        if authenticators:
            statuses[401] = (
                "Credentials are missing, invalid or expired."
                if operation.get("security") and {} not in operation["security"]
                else "The credentials sent, or the ones this route checks, are wrong or expired."
            )
        if tenant_scoped or checks_permissions or accepts_api_keys:
            statuses[403] = (
                "Not a member of this tenant, or the role (or API key scope) lacks the permission."
                if tenant_scoped
                else "The caller may not do this (for example an API key outside tenant routes)."
            )
        missing = []
        if path_parameters:
            missing.append("no such tenant or object here (another tenant's id answers the same)")
        if {p.get("name") for p in parameters if p.get("in") == "query"} & {"page", "cursor"}:
            missing.append("no such page (past the end, or a cursor this API did not issue)")
        if missing:
            text = "; ".join(missing)
            statuses[404] = text[0].upper() + text[1:] + "."
        if "requestBody" in operation:
            statuses[415] = "The body is not JSON: send `Content-Type: application/json`."
        if self.method not in _SAFE_METHODS:
            statuses[409] = "The request conflicts with the current state (`code` says how)."
            statuses[422] = "The request breaks a rule of the domain (`code` says which)."
        if _is_throttled(view_class) or accepts_api_keys:
            statuses[429] = "Too many requests; retry after the `Retry-After` header's seconds."
        return statuses
