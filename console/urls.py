"""The console's URLs: one `include` per view module, each module (`console/views/<group>.py`)
exposing its own `urlpatterns` with plain `path(...)` entries and URL names. To add a group of
pages, write the module and add one line here; names stay in the `console:` namespace.

A tenant's pages live under `t/<uuid:tenant_id>/<section>/` and are guarded by
`console.access.tenant_page`; the rest by `user_page` or, with a reason, `public`.
console/tests/test_routes.py checks that every route has a guard."""

from django.urls import include, path

from console.views import account, home, money, overview, platform, signin

app_name = "console"
urlpatterns = [
    path("", include(home.urlpatterns)),
    path("", include(signin.urlpatterns)),
    path("", include(account.urlpatterns)),
    path("", include(overview.urlpatterns)),
    path("", include(money.urlpatterns)),
    path("", include(platform.urlpatterns)),
    path("", include("console.views.people")),
]
