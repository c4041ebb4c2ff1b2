"""Where a signed-in user lands, and the list of the tenants they may open."""

from __future__ import annotations

from typing import cast

from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.views.decorators.http import require_GET

from accounts.models import User
from console.access import render_page, user_page
from core.tenancy import user_context
from tenants import selectors as tenant_selectors

PAGE_SIZE = 50


@user_page
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """A user with one tenant goes straight to it; others choose from their tenants."""
    user = cast(User, request.user)
    with user_context(user):
        first_two = list(tenant_selectors.tenant_list_for_user(user=user).values_list("pk", flat=True)[:2])
    if len(first_two) == 1:
        return redirect("console:overview", tenant_id=first_two[0])
    return redirect("console:tenants")


@user_page
@require_GET
def tenant_list(request: HttpRequest) -> HttpResponse:
    """Every tenant the user may open (their memberships'; every tenant for platform staff),
    by name, filtered by `q` (part of the name or slug), 50 a page."""
    user = cast(User, request.user)
    query = request.GET.get("q", "").strip()[:100]
    with user_context(user):
        tenants = tenant_selectors.tenant_list_for_user(user=user)
        if query:
            tenants = tenants.filter(Q(name__icontains=query) | Q(slug__icontains=query))
        page = Paginator(tenants, PAGE_SIZE).get_page(request.GET.get("page"))
        rows = list(page.object_list)
    return render_page(request, "console/tenants.html", {"page": page, "tenants": rows, "q": query})


urlpatterns = [
    path("", home, name="home"),
    path("tenants/", tenant_list, name="tenants"),
]
