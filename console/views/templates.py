"""A tenant's view of the template catalogue (issue 13): the agent templates it may make agents
from (published ones; platform staff see drafts too, as the create form offers them), each with
its cookbooks and their active recipes; "create an agent from this template" opens the agents
page's creation form with that template chosen (`?template=<id>`).

Guard: agents:read, as the agents list; the create link only for agents:write (the form's own
guard). Three queries whatever the size of the catalogue (templates, cookbooks, recipes).
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.urls import path

from agents import selectors
from agents.models import Cookbook, Recipe
from console.access import render_page, tenant_page
from core.access import TenantAccess

TEMPLATES = "console/templates/templates.html"


@tenant_page("agents:read")
def templates(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """The templates with their cookbooks and recipes; a link to make an agent from each."""
    published_only = not access.staff
    recipes = Recipe.objects.filter(is_active=True).order_by("name", "-created_at", "id")
    cookbooks = Cookbook.objects.order_by("name", "id").prefetch_related(
        Prefetch("recipes", queryset=recipes, to_attr="active_recipes")
    )
    rows = list(
        selectors.template_list(published_only=published_only)
        .order_by("name", "id")
        .prefetch_related(Prefetch("cookbooks", queryset=cookbooks, to_attr="cookbook_list"))
    )
    context = {
        "templates": rows,
        "may_create": access.allows("agents:write") and not access.tenant.is_suspended,
    }
    return render_page(request, TEMPLATES, context, access=access)


urlpatterns = [
    path("t/<uuid:tenant_id>/templates/", templates, name="templates"),
]
