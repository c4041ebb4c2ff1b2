"""Platform staff's catalogue editor (issue 13): agent templates, their cookbooks and recipes,
and the skills of the marketplace, created and changed through agents.services.catalogue (each
write one transaction, audited there), as `/api/v1/platform/catalogue/` does.

- A recipe is written in YAML (agents.recipes); a bad document is refused with the parser's
  message, which names the line: the editor shows the source numbered with that line marked.
  A recipe is never changed in place: "new version" starts from the old one's source, and
  versions are switched on and off.
- A skill's status (draft, published, deprecated, removed) is changed from the list or its page;
  its slug is its identity and is never renamed.

Guard: `platform_page` (console/views/platform.py), the API's rule for platform routes: platform
staff; everyone else the 403 page. The catalogue is platform-wide (no tenant, no row-level
security), so there is no tenant gate to pass.
"""

from __future__ import annotations

import re
from typing import Any, cast
from uuid import UUID

from django.contrib import messages
from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from agents import selectors, services
from agents.models import AbTestResult, AgentTemplate, Cookbook, Recipe, Skill, SkillStatus
from console.access import refusal_page, render_page
from console.forms import show_domain_error
from console.forms_catalogue import CookbookForm, RecipeForm, SkillForm, SkillStatusForm, TemplateForm
from console.views.platform import platform_page
from core.errors import DomainError

CATALOGUE = "console/catalogue/catalogue.html"
TEMPLATE = "console/catalogue/template.html"
COOKBOOK = "console/catalogue/cookbook.html"
RECIPE = "console/catalogue/recipe.html"
SKILL = "console/catalogue/skill.html"
NAV = "console:platform_catalogue"
# "YAML error at line 3, column 5: ..." and "Line 7: steps.0: ..." (agents.recipes.parse_recipe).
ERROR_LINE = re.compile(r"\bline (\d+)", re.IGNORECASE)


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _page(request: HttpRequest, page: str, status: int = 200, /, **context: Any) -> HttpResponse:
    return render_page(request, page, {"nav_current": NAV, **context}, status=status)


def _missing(request: HttpRequest, what: str) -> HttpResponse:
    return refusal_page(request, status=404, detail=f"There is no such {what} in the catalogue.")


# --- The catalogue ------------------------------------------------------------------------------


@platform_page()
@require_GET
def catalogue(request: HttpRequest) -> HttpResponse:
    """Every template (drafts too) with its cookbooks and recipe counts; every skill with its
    status, changed in place. Three queries whatever the catalogue's size."""
    cookbooks = Cookbook.objects.order_by("name", "id").annotate(
        recipe_count=Count("recipes"), active_count=Count("recipes", filter=Q(recipes__is_active=True))
    )
    templates = list(
        selectors.template_list(published_only=False)
        .order_by("name", "id")
        .prefetch_related(Prefetch("cookbooks", queryset=cookbooks, to_attr="cookbook_list"))
    )
    skills = list(selectors.skill_list(visible_only=False).order_by("name", "id"))
    return _page(request, CATALOGUE, templates=templates, skills=skills, statuses=SkillStatus.choices)


# --- Templates ----------------------------------------------------------------------------------


def _template(template_id: UUID) -> AgentTemplate | None:
    return selectors.template_list(published_only=False).filter(pk=template_id).first()


def _template_page(
    request: HttpRequest,
    template: AgentTemplate | None,
    form: TemplateForm,
    *,
    status: int = 200,
    cookbook_form: CookbookForm | None = None,
) -> HttpResponse:
    cookbooks: list[Cookbook] = []
    if template is not None:
        recipes = Recipe.objects.order_by("name", "-created_at", "id")
        cookbooks = list(
            selectors.cookbook_list(template=template, published_only=False)
            .order_by("name", "id")
            .prefetch_related(Prefetch("recipes", queryset=recipes, to_attr="recipe_list"))
        )
    return _page(
        request,
        TEMPLATE,
        status,
        template=template,
        form=form,
        cookbooks=cookbooks,
        cookbook_form=cookbook_form or CookbookForm(),
    )


@platform_page()
@require_http_methods(["GET", "POST"])
def template_new(request: HttpRequest) -> HttpResponse:
    form = TemplateForm(request.POST or None)
    if request.method != "POST":
        return _template_page(request, None, form)
    if not form.is_valid():
        return _template_page(request, None, form, status=400)
    try:
        template = services.template_create(actor=_actor(request), data=form.values())
    except DomainError as exc:  # a slug taken, a bad tool policy
        show_domain_error(form, exc)
        return _template_page(request, None, form, status=exc.status_code)
    messages.success(request, f"Created the template {template.name}.")
    return redirect("console:platform_catalogue_template", template_id=template.pk)


@platform_page()
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, template_id: UUID) -> HttpResponse:
    """A template's fields, and its cookbooks with their recipes."""
    template = _template(template_id)
    if template is None:
        return _missing(request, "template")
    if request.method != "POST":
        return _template_page(request, template, TemplateForm(initial=TemplateForm.initial_of(template)))
    form = TemplateForm(request.POST)
    if not form.is_valid():
        return _template_page(request, template, form, status=400)
    try:
        template = services.template_update(template=template, actor=_actor(request), data=form.values())
    except DomainError as exc:
        show_domain_error(form, exc)
        return _template_page(request, template, form, status=exc.status_code)
    messages.success(request, f"Saved the template {template.name}.")
    return redirect("console:platform_catalogue_template", template_id=template.pk)


# --- Cookbooks ----------------------------------------------------------------------------------


def _cookbook(cookbook_id: UUID) -> Cookbook | None:
    return selectors.cookbook_list(published_only=False).filter(pk=cookbook_id).first()


@platform_page()
@require_POST
def cookbook_new(request: HttpRequest, template_id: UUID) -> HttpResponse:
    template = _template(template_id)
    if template is None:
        return _missing(request, "template")
    form = CookbookForm(request.POST)
    edit = TemplateForm(initial=TemplateForm.initial_of(template))
    if not form.is_valid():
        return _template_page(request, template, edit, status=400, cookbook_form=form)
    try:
        cookbook = services.cookbook_create(template=template, actor=_actor(request), data=form.cleaned_data)
    except DomainError as exc:  # a name the template has already
        show_domain_error(form, exc)
        return _template_page(request, template, edit, status=exc.status_code, cookbook_form=form)
    messages.success(request, f"Added the cookbook {cookbook.name} to {template.name}.")
    return redirect("console:platform_catalogue_cookbook", cookbook_id=cookbook.pk)


def _cookbook_page(
    request: HttpRequest, cookbook: Cookbook, form: CookbookForm, *, status: int = 200
) -> HttpResponse:
    results = AbTestResult.objects.filter(recipe=OuterRef("pk"))
    recipes = list(
        selectors.recipe_list(cookbook=cookbook, published_only=False).annotate(has_ab=Exists(results))
    )
    return _page(request, COOKBOOK, status, cookbook=cookbook, form=form, recipes=recipes)


@platform_page()
@require_http_methods(["GET", "POST"])
def cookbook_edit(request: HttpRequest, cookbook_id: UUID) -> HttpResponse:
    """A cookbook's fields and its recipes (every version, on or off)."""
    cookbook = _cookbook(cookbook_id)
    if cookbook is None:
        return _missing(request, "cookbook")
    if request.method != "POST":
        return _cookbook_page(request, cookbook, CookbookForm(initial=CookbookForm.initial_of(cookbook)))
    form = CookbookForm(request.POST)
    if not form.is_valid():
        return _cookbook_page(request, cookbook, form, status=400)
    try:
        cookbook = services.cookbook_update(cookbook=cookbook, actor=_actor(request), data=form.cleaned_data)
    except DomainError as exc:
        show_domain_error(form, exc)
        return _cookbook_page(request, cookbook, form, status=exc.status_code)
    messages.success(request, f"Saved the cookbook {cookbook.name}.")
    return redirect("console:platform_catalogue_cookbook", cookbook_id=cookbook.pk)


# --- Recipes ------------------------------------------------------------------------------------


def source_listing(source: str, detail: str) -> tuple[int | None, list[tuple[int, str]]]:
    """The line a parser's message names (None if it names none or one past the end) and the
    source's lines, numbered from 1, for the editor to show with that line marked."""
    lines = list(enumerate(source.splitlines() or [""], start=1))
    found = ERROR_LINE.search(detail)
    line = int(found.group(1)) if found else None
    if line is not None and not 1 <= line <= len(lines):
        line = len(lines)  # "line N+1": the fault is at the end of the document
    return line, lines


def _next_version(version: str) -> str:
    """1.4.2 → 1.5.0: the version a new version of a recipe is offered."""
    try:
        major, minor, _ = (int(part) for part in version.split("."))
    except ValueError:
        return version
    return f"{major}.{minor + 1}.0"


@platform_page()
@require_http_methods(["GET", "POST"])
def recipe_new(request: HttpRequest, cookbook_id: UUID) -> HttpResponse:
    """Add a recipe, or a new version of one (`?from=<recipe id>`: its name and source to start
    from). A bad YAML is shown at its line."""
    cookbook = _cookbook(cookbook_id)
    if cookbook is None:
        return _missing(request, "cookbook")
    source_recipe = None
    if request.GET.get("from"):
        try:
            source_recipe = (
                selectors.recipe_list(cookbook=cookbook, published_only=False)
                .filter(pk=UUID(request.GET["from"][:64]))
                .first()
            )
        except ValueError:
            source_recipe = None
        if source_recipe is None:
            return _missing(request, "recipe")
    context: dict[str, Any] = {"cookbook": cookbook, "source_recipe": source_recipe}
    if request.method != "POST":
        initial: dict[str, Any] = {}
        if source_recipe is not None:
            initial = {
                "name": source_recipe.name,
                "version": _next_version(source_recipe.version),
                "definition": source_recipe.source,
            }
        return _page(request, RECIPE, form=RecipeForm(initial=initial), **context)
    form = RecipeForm(request.POST)
    if not form.is_valid():
        return _page(request, RECIPE, 400, form=form, **context)
    try:
        recipe = services.recipe_create(cookbook=cookbook, actor=_actor(request), **form.cleaned_data)
    except DomainError as exc:  # the YAML (its line named), a version the recipe has already
        if "definition" in exc.errors:
            context["error_line"], context["listing"] = source_listing(
                form.cleaned_data["definition"], exc.detail
            )
        show_domain_error(form, exc)  # (takes the refused field out of cleaned_data)
        return _page(request, RECIPE, exc.status_code, form=form, **context)
    messages.success(request, f"Added the recipe {recipe.name} {recipe.version}.")
    return redirect("console:platform_catalogue_cookbook", cookbook_id=cookbook.pk)


@platform_page()
@require_POST
def recipe_active(request: HttpRequest, recipe_id: UUID) -> HttpResponse:
    """Switch a recipe version on or off (`active`: "1" or "0")."""
    recipe = selectors.recipe_list(published_only=False).filter(pk=recipe_id).first()
    if recipe is None:
        return _missing(request, "recipe")
    active = request.POST.get("active") == "1"
    services.recipe_set_active(recipe=recipe, actor=_actor(request), is_active=active)
    messages.success(request, f"{'Activated' if active else 'Deactivated'} {recipe.name} {recipe.version}.")
    return redirect("console:platform_catalogue_cookbook", cookbook_id=recipe.cookbook_id)


# --- Skills -------------------------------------------------------------------------------------


def _skill(skill_id: UUID) -> Skill | None:
    return selectors.skill_list(visible_only=False).filter(pk=skill_id).first()


def _skill_form(data: Any = None, *, skill: Skill | None = None) -> SkillForm:
    form = SkillForm(data, initial=SkillForm.initial_of(skill) if skill is not None else None)
    if skill is not None:
        form.fields["slug"].disabled = True  # a skill's slug is its identity: never renamed
    return form


@platform_page()
@require_http_methods(["GET", "POST"])
def skill_new(request: HttpRequest) -> HttpResponse:
    form = _skill_form(request.POST or None)
    if request.method != "POST":
        return _page(request, SKILL, form=form, skill=None)
    if not form.is_valid():
        return _page(request, SKILL, 400, form=form, skill=None)
    try:
        skill = services.skill_create(actor=_actor(request), data=form.cleaned_data)
    except DomainError as exc:  # a slug taken
        show_domain_error(form, exc)
        return _page(request, SKILL, exc.status_code, form=form, skill=None)
    messages.success(request, f"Created the skill {skill.name} ({skill.get_status_display().lower()}).")
    return redirect(NAV)


@platform_page()
@require_http_methods(["GET", "POST"])
def skill_edit(request: HttpRequest, skill_id: UUID) -> HttpResponse:
    skill = _skill(skill_id)
    if skill is None:
        return _missing(request, "skill")
    if request.method != "POST":
        return _page(request, SKILL, form=_skill_form(skill=skill), skill=skill)
    form = _skill_form(request.POST, skill=skill)
    if not form.is_valid():
        return _page(request, SKILL, 400, form=form, skill=skill)
    data = {k: v for k, v in form.cleaned_data.items() if k != "slug"}
    try:
        skill = services.skill_update(skill=skill, actor=_actor(request), data=data)
    except DomainError as exc:
        show_domain_error(form, exc)
        return _page(request, SKILL, exc.status_code, form=form, skill=skill)
    messages.success(request, f"Saved the skill {skill.name}.")
    return redirect(NAV)


@platform_page()
@require_POST
def skill_status(request: HttpRequest, skill_id: UUID) -> HttpResponse:
    """Publish, deprecate, remove (or make a draft again) a skill, from the catalogue's list."""
    skill = _skill(skill_id)
    if skill is None:
        return _missing(request, "skill")
    form = SkillStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the statuses.")
        return redirect(f"{reverse(NAV)}#skill-{skill.slug}")
    skill = services.skill_update(skill=skill, actor=_actor(request), data=form.cleaned_data)
    messages.success(request, f"{skill.name} is now {skill.get_status_display().lower()}.")
    return redirect(f"{reverse(NAV)}#skill-{skill.slug}")


CATALOGUE_URL = "platform/catalogue/"
urlpatterns = [
    path(CATALOGUE_URL, catalogue, name="platform_catalogue"),
    path(f"{CATALOGUE_URL}templates/new/", template_new, name="platform_catalogue_template_new"),
    path(f"{CATALOGUE_URL}templates/<uuid:template_id>/", template_edit, name="platform_catalogue_template"),
    path(
        f"{CATALOGUE_URL}templates/<uuid:template_id>/cookbooks/new/",
        cookbook_new,
        name="platform_catalogue_cookbook_new",
    ),
    path(f"{CATALOGUE_URL}cookbooks/<uuid:cookbook_id>/", cookbook_edit, name="platform_catalogue_cookbook"),
    path(
        f"{CATALOGUE_URL}cookbooks/<uuid:cookbook_id>/recipes/new/",
        recipe_new,
        name="platform_catalogue_recipe_new",
    ),
    path(
        f"{CATALOGUE_URL}recipes/<uuid:recipe_id>/active/",
        recipe_active,
        name="platform_catalogue_recipe_active",
    ),
    path(f"{CATALOGUE_URL}skills/new/", skill_new, name="platform_catalogue_skill_new"),
    path(f"{CATALOGUE_URL}skills/<uuid:skill_id>/", skill_edit, name="platform_catalogue_skill"),
    path(
        f"{CATALOGUE_URL}skills/<uuid:skill_id>/status/", skill_status, name="platform_catalogue_skill_status"
    ),
]
