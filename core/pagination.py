"""Pagination: numbered pages for ordinary lists, cursors for the big append-only ones.

The paging parameters are strict: a repeated one (`?page_size=1&page_size=2`) or a page size
that is not a positive whole number is a 400, not silently one of them or the default. A page
size above the maximum is capped, as documented.
"""

from __future__ import annotations

from typing import Any

from rest_framework import pagination

from core.errors import InvalidInput


def _single(request: Any, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise InvalidInput(
            "Some parameters are invalid.", code="validation_error", errors={name: ["Give it once."]}
        )
    return values[0] if values else None


class StrictPageSize:
    page_size: int | None
    page_size_query_param: str | None
    max_page_size: int | None

    def get_page_size(self, request: Any) -> int | None:
        raw = _single(request, self.page_size_query_param or "page_size")
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or not raw.strip("0"):
            raise InvalidInput(
                "Some parameters are invalid.",
                code="validation_error",
                errors={self.page_size_query_param or "page_size": ["A whole number, 1 or more."]},
            )
        size = int(raw) if len(raw) <= 18 else 10**18  # more digits: past any maximum anyway
        return min(size, self.max_page_size) if self.max_page_size else size


class PageNumberPagination(StrictPageSize, pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        _single(request, self.page_query_param)
        return super().paginate_queryset(queryset, request, view)


class CursorPagination(StrictPageSize, pagination.CursorPagination):
    """For the audit log and the ledger: stable under concurrent inserts, no COUNT(*)."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = ("-created_at", "-id")

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        _single(request, self.cursor_query_param)
        return super().paginate_queryset(queryset, request, view)
