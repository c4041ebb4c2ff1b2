"""The back office for tenants: create (with a first owner), edit, suspend and reactivate (with
a reason, on a confirmation page). No deletion: suspend instead."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.http import urlencode
from unfold.decorators import display
from unfold.widgets import UnfoldAdminEmailInputWidget, UnfoldAdminTextareaWidget

from accounts.models import User, UserManager
from audit.models import AuditLogEntry
from audit.selectors import audit_log_for_target
from core.errors import DomainError
from tenants import services
from tenants.admin.common import ServiceAdmin, actor_of, changed_fields
from tenants.models import Membership, Tenant, TenantStatus

STATUS_LABELS = {
    TenantStatus.ACTIVE: "success",
    TenantStatus.SUSPENDED: "danger",
    TenantStatus.PROVISIONING: "info",
    TenantStatus.FAILED: "warning",
}


class TenantAddForm(forms.ModelForm):
    slug = forms.SlugField(max_length=50, required=False, help_text="Leave blank to derive it from the name.")
    owner_email = forms.EmailField(
        required=False,
        widget=UnfoldAdminEmailInputWidget,
        help_text="An existing user who becomes the tenant's first owner (optional).",
    )

    class Meta:
        model = Tenant
        fields = [
            "name",
            "slug",
            "admin_email",
            "plan",
            "timezone",
            "model_defaults",
            "resource_limits",
            "require_2fa",
        ]

    def clean_owner_email(self) -> User | None:
        email = UserManager.normalize_email(self.cleaned_data.get("owner_email"))
        if not email:
            return None
        owner = User.objects.filter(email=email, is_active=True).first()
        if owner is None:
            raise forms.ValidationError("No active user has this e-mail address.")
        return owner


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text="Recorded in the audit log.",
    )


@admin.register(Tenant)
class TenantAdmin(ServiceAdmin):
    add_form = TenantAddForm
    list_display = ["name", "slug", "status_label", "plan", "created_at", "member_count"]
    list_filter = ["status", "plan"]
    search_fields = ["name", "slug", "admin_email"]
    ordering = ["name", "id"]
    actions = ["suspend_selected", "reactivate_selected"]
    fieldsets: Any = (
        (None, {"fields": ("name", "slug", "admin_email", "timezone", "related")}),
        ("Plan and limits", {"fields": ("plan", "resource_limits", "model_defaults", "require_2fa")}),
        ("Status", {"fields": ("status", "suspended_at", "suspension_reason")}),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )
    add_fieldsets = (
        (None, {"fields": ("name", "slug", "admin_email", "timezone", "owner_email")}),
        ("Plan and limits", {"fields": ("plan", "resource_limits", "model_defaults", "require_2fa")}),
    )
    # Status changes only through the suspend / reactivate actions (audited, with a reason);
    # the slug is an identifier others hold on to.
    change_readonly_fields = [
        "slug",
        "status",
        "suspended_at",
        "suspension_reason",
        "created_at",
        "updated_at",
        "related",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        # One correlated subquery, not a query per row (Membership has no reverse accessor).
        members = (
            Membership.objects.filter(tenant=OuterRef("pk"))
            .order_by()
            .values("tenant")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(member_count=Coalesce(Subquery(members, output_field=IntegerField()), 0))
        )

    @display(description="Members", ordering="member_count")
    def member_count(self, obj: Tenant) -> int:
        return obj.member_count  # type: ignore[attr-defined]  # annotated in get_queryset

    @display(description="Related")
    def related(self, obj: Tenant) -> str:
        """Links to the tenant's members, teams, invites, keys and configuration (changelists
        filtered to this tenant; by URL name, so no app above is imported)."""
        pages = [
            ("tenants_membership", "Members"),
            ("tenants_team", "Teams"),
            ("tenants_invite", "Invites"),
            ("accounts_apikey", "API keys"),
            ("tenants_setting", "Settings"),
            ("tenants_featureflag", "Feature flags"),
            ("tenants_secret", "Secrets"),
            ("audit_auditlogentry", "Audit log"),
        ]
        query = urlencode({"tenant__id__exact": str(obj.pk)})
        return format_html_join(
            " · ",
            '<a class="text-primary-600 underline" href="{}?{}">{}</a>',
            ((reverse(f"admin:{name}_changelist"), query, text) for name, text in pages),
        )

    def history_entries(self, obj: Tenant) -> QuerySet[AuditLogEntry]:
        # A tenant's History is everything its audit log holds, not only changes of its row.
        return audit_log_for_target(target_type="tenants.tenant", target_id=obj.pk, tenant=obj)

    @display(description="Status", ordering="status", label=STATUS_LABELS)
    def status_label(self, obj: Tenant) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else self.change_readonly_fields

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # No service deletes a tenant (the audit log keeps its rows); suspend it instead.
        return False

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        if change:
            data = changed_fields(form, services.TENANT_FIELDS)
            if data:
                services.tenant_update(tenant=obj, actor=actor_of(request), data=data)
            return
        fields = {f: form.cleaned_data[f] for f in TenantAddForm.Meta.fields if f in form.cleaned_data}
        created = services.tenant_create(
            actor=actor_of(request), owner=form.cleaned_data.get("owner_email"), **fields
        )
        # The admin's success message, redirect and history entry refer to `obj`.
        obj.pk = created.pk
        obj.slug = created.slug
        obj._state.adding = False

    # --- Suspend / reactivate, with a reason asked on a confirmation page ---------------------

    @admin.action(description="Suspend selected tenants", permissions=["change"])
    def suspend_selected(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> HttpResponse | None:
        return self._status_action(
            request,
            queryset,
            action="suspend_selected",
            title="Suspend tenants",
            verb="suspend",
            service=services.tenant_suspend,
            done="Suspended",
        )

    @admin.action(description="Reactivate selected tenants", permissions=["change"])
    def reactivate_selected(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> HttpResponse | None:
        return self._status_action(
            request,
            queryset,
            action="reactivate_selected",
            title="Reactivate tenants",
            verb="reactivate",
            service=services.tenant_reactivate,
            done="Reactivated",
        )

    def _status_action(
        self,
        request: HttpRequest,
        queryset: QuerySet[Tenant],
        *,
        action: str,
        title: str,
        verb: str,
        service: Callable[..., Tenant],
        done: str,
    ) -> HttpResponse | None:
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": title,
                "verb": verb,
                "opts": self.model._meta,
                "tenants": list(queryset),
                "form": form,
                "action": action,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/tenants/tenant/status_confirmation.html", context)
        reason = form.cleaned_data["reason"]
        changed = []
        # Primary-key order: the services lock each tenant row, always in the same order.
        for tenant in queryset.order_by("pk"):
            try:
                service(tenant=tenant, actor=actor_of(request), reason=reason)
            except DomainError as exc:
                self.message_user(request, f"{tenant.name}: {exc.detail}", messages.WARNING)
            else:
                changed.append(tenant.name)
        if changed:
            self.message_user(request, f"{done} {len(changed)}: {', '.join(changed)}.", messages.SUCCESS)
        return None
