"""The console's URLs: one `include` per view module, each module (`console/views/<group>.py`)
exposing its own `urlpatterns` with plain `path(...)` entries and URL names. To add a group of
pages, write the module and add one line here, `path("", include("console.views.<group>"))`
(no import to edit); names stay in the `console:` namespace.

A tenant's pages live under `t/<uuid:tenant_id>/<section>/` and are guarded by
`console.access.tenant_page`; the rest by `user_page` or, with a reason, `public`.
console/tests/test_routes.py checks that every route has a guard."""

from django.urls import include, path

app_name = "console"
urlpatterns = [
    path("", include("console.views.home")),
    path("", include("console.views.signin")),
    path("", include("console.views.account")),
    path("", include("console.views.overview")),
    path("", include("console.views.password")),
    path("", include("console.views.invite_accept")),
    path("", include("console.views.money")),
    path("", include("console.views.platform")),
    path("", include("console.views.people")),
    path("", include("console.views.configuration")),
    path("", include("console.views.agents")),
    path("", include("console.views.agent_channels")),
    path("", include("console.views.alerts")),
    path("", include("console.views.sessions")),
    path("", include("console.views.tasks")),
    path("", include("console.views.skills")),
    path("", include("console.views.templates")),
    path("", include("console.views.catalogue")),
    path("", include("console.views.ab_tests")),
    path("", include("console.views.stream")),
    path("", include("console.views.analytics")),
    path("", include("console.views.segments")),
    path("", include("console.views.recommendations")),
    path("", include("console.views.interventions")),
    path("", include("console.views.graph")),
]
