"""A tenant's configuration: settings (`/t/<id>/settings/`), feature flags (`/t/<id>/flags/`) and
the secret locker (`/t/<id>/secrets/`).

Each view is guarded with the permission the API's view for the same action names
(tenants/api/settings.py, flags.py, secrets.py) and writes through the same service. Secret
values never appear on a page but in the answer to an explicit reveal, which says why, is
audited by the service and is marked `Cache-Control: no-store`; reloading the page does not show
it again. The queries of each page do not grow with the rows.

Forms work without JavaScript (POST, then a redirect with a message; errors in place); htmx
turns a flag's switch and rollout, the evaluation and a reveal into swaps of their panel.
"""

from __future__ import annotations

from django.urls import path

from console.views.configuration.flags import (
    flag_create,
    flag_delete,
    flag_detail,
    flag_rollout,
    flag_toggle,
    flag_update,
    flags_list,
)
from console.views.configuration.secrets import (
    secret_create,
    secret_delete,
    secret_detail,
    secret_reveal,
    secret_rotate,
    secrets_list,
)
from console.views.configuration.settings import (
    setting_detail,
    setting_reset,
    setting_reveal,
    setting_rollback,
    setting_set,
    settings_list,
)

T = "t/<uuid:tenant_id>/"
urlpatterns = [
    path(f"{T}settings/", settings_list, name="settings"),
    path(f"{T}settings/<str:key>/", setting_detail, name="setting"),
    path(f"{T}settings/<str:key>/set/", setting_set, name="setting_set"),
    path(f"{T}settings/<str:key>/reset/", setting_reset, name="setting_reset"),
    path(f"{T}settings/<str:key>/rollback/", setting_rollback, name="setting_rollback"),
    path(f"{T}settings/<str:key>/reveal/", setting_reveal, name="setting_reveal"),
    path(f"{T}flags/", flags_list, name="flags"),
    path(f"{T}flags/new/", flag_create, name="flag_create"),
    path(f"{T}flags/<uuid:flag_id>/", flag_detail, name="flag"),
    path(f"{T}flags/<uuid:flag_id>/edit/", flag_update, name="flag_update"),
    path(f"{T}flags/<uuid:flag_id>/switch/", flag_toggle, name="flag_toggle"),
    path(f"{T}flags/<uuid:flag_id>/rollout/", flag_rollout, name="flag_rollout"),
    path(f"{T}flags/<uuid:flag_id>/delete/", flag_delete, name="flag_delete"),
    path(f"{T}secrets/", secrets_list, name="secrets"),
    path(f"{T}secrets/new/", secret_create, name="secret_create"),
    path(f"{T}secrets/<uuid:secret_id>/", secret_detail, name="secret"),
    path(f"{T}secrets/<uuid:secret_id>/rotate/", secret_rotate, name="secret_rotate"),
    path(f"{T}secrets/<uuid:secret_id>/reveal/", secret_reveal, name="secret_reveal"),
    path(f"{T}secrets/<uuid:secret_id>/delete/", secret_delete, name="secret_delete"),
]
