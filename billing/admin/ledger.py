"""Credits in the back office: accounts (grant, top up, refund or adjust, with a reason), the
ledger, holds and low-balance thresholds.

The ledger is insert-only in the database, and so here: nothing edits or deletes an entry.
Money moves only through `billing.services.credits_post` (locked, audited, with the reason in
the ledger and the audit log), from the accounts' changelist (selected accounts) or an
account's own page.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from unfold.contrib.filters.admin import AutocompleteSelectFilter
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminDecimalFieldWidget, UnfoldAdminSelectWidget

from audit.admin import AuditHistoryMixin
from audit.models import AuditLogEntry
from audit.selectors import audit_log_for_target
from billing import services
from billing.admin.common import actor_of, admin_link, changelist_link, credits_text, tenant_link
from billing.models import CreditAccount, CreditTransaction, LowBalanceThreshold, Reservation, TransactionKind
from billing.services.postings import STAFF_KINDS
from core.admin_actions import ReasonForm, form_action
from core.admin_bypass import ReadOnlyAdmin, is_admin_platform_admin

KIND_LABELS = {
    TransactionKind.GRANT: "success",
    TransactionKind.TOPUP: "success",
    TransactionKind.REFUND: "info",
    TransactionKind.ADJUSTMENT: "warning",
    TransactionKind.USAGE: "",
    TransactionKind.BYPASS: "",
    TransactionKind.EXPIRY: "danger",
}
KIND_HELP = (
    "Grant, top-up and refund add credits (a positive amount); an adjustment is signed "
    "(negative takes credits away, never below the overdraft floor)."
)


class CreditsForm(ReasonForm):
    kind = forms.ChoiceField(
        choices=[(k.value, k.label) for k in TransactionKind if k in STAFF_KINDS],
        widget=UnfoldAdminSelectWidget,
        help_text=KIND_HELP,
    )
    amount = forms.DecimalField(
        max_digits=20, decimal_places=6, widget=UnfoldAdminDecimalFieldWidget, help_text="Credits."
    )
    # One key per form shown: a double submit posts the same key, and the service answers the
    # first posting again instead of granting twice.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    field_order = ["kind", "amount", "reason", "idempotency_key"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["idempotency_key"].initial = f"admin-{uuid.uuid4()}"


def _post_credits(request: HttpRequest) -> Any:
    def apply(account: CreditAccount, data: dict[str, Any]) -> object:
        return services.credits_post(
            tenant=account.tenant_id,
            kind=data["kind"],
            amount=data["amount"],
            reason=data["reason"],
            actor=actor_of(request),
            idempotency_key=data["idempotency_key"],
        )

    return apply


@admin.register(CreditAccount)
class CreditAccountAdmin(AuditHistoryMixin, ReadOnlyAdmin):
    list_display = [
        "tenant_display",
        "balance_display",
        "held_display",
        "available_display",
        "overdraft_limit",
        "unlimited",
        "updated_at",
    ]
    list_select_related = ["tenant"]
    list_filter = ["unlimited"]
    search_fields = ["tenant__name", "tenant__slug"]
    ordering = ["tenant__name"]
    actions = ["grant_credits"]
    actions_detail = ["grant_credits_detail"]
    fields = [
        "tenant_display",
        "balance_display",
        "held_display",
        "available_display",
        "overdraft_limit",
        "unlimited",
        "related",
        "updated_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[CreditAccount]:
        return super().get_queryset(request).select_related("tenant")

    def has_grant_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_admin_platform_admin(request.user)

    def history_entries(self, obj: CreditAccount) -> QuerySet[AuditLogEntry]:
        # The account's own changes and the tenant's credit postings (they target the entries).
        return audit_log_for_target(
            target_type="billing.creditaccount",
            target_id=obj.pk,
            tenant=obj.tenant_id,
            action_prefix="credits.",
        )

    @display(description="Tenant", ordering="tenant__name")
    def tenant_display(self, obj: CreditAccount) -> str:
        return tenant_link(obj.tenant)

    @display(description="Balance", ordering="balance")
    def balance_display(self, obj: CreditAccount) -> str:
        return credits_text(obj.balance)

    @display(description="Held", ordering="held")
    def held_display(self, obj: CreditAccount) -> str:
        return credits_text(obj.held)

    @display(description="Available")
    def available_display(self, obj: CreditAccount) -> str:
        return "unlimited" if obj.unlimited else credits_text(obj.available)

    @display(description="Related")
    def related(self, obj: CreditAccount) -> str:
        links = [
            changelist_link("billing_credittransaction", "Ledger", tenant__id__exact=obj.tenant_id),
            changelist_link("billing_lowbalancethreshold", "Thresholds", tenant__id__exact=obj.tenant_id),
            changelist_link("billing_reservation", "Holds", tenant__id__exact=obj.tenant_id),
            changelist_link("billing_subscription", "Subscription", tenant__id__exact=obj.tenant_id),
        ]
        return " · ".join(links)  # each built by format_html

    @admin.action(description="Grant or adjust credits of selected accounts", permissions=["grant"])
    def grant_credits(self, request: HttpRequest, queryset: QuerySet[CreditAccount]) -> HttpResponse | None:
        return form_action(
            self,
            request,
            queryset.select_related("tenant"),
            action="grant_credits",
            title="Grant or adjust credits",
            intro="Each account gets one ledger entry of this kind and amount, with the reason.",
            form_class=CreditsForm,
            apply=_post_credits(request),
            done="Posted credits to",
        )

    @action(description="Grant or adjust credits", url_path="grant", permissions=["grant"], icon="add_card")
    def grant_credits_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_grant_permission(request):
            raise PermissionDenied  # unfold hides the button; the URL itself is checked here
        accounts = self.get_queryset(request).filter(pk=object_id)
        response = form_action(
            self,
            request,
            accounts,
            action="grant_credits_detail",
            title="Grant or adjust credits",
            intro="One ledger entry of this kind and amount, with the reason.",
            form_class=CreditsForm,
            apply=_post_credits(request),
            done="Posted credits to",
            detail=True,
        )
        if response is not None:
            return response
        return HttpResponseRedirect(reverse("admin:billing_creditaccount_change", args=[object_id]))


@admin.register(CreditTransaction)
class CreditTransactionAdmin(AuditHistoryMixin, ReadOnlyAdmin):
    list_display = [
        "seq",
        "created_at",
        "tenant",
        "kind_label",
        "amount_display",
        "balance_after_display",
        "model",
        "actor_user",
        "description",
    ]
    list_select_related = ["tenant", "actor_user"]
    list_filter = ["kind", ("tenant", AutocompleteSelectFilter), "created_at"]
    search_fields = ["idempotency_key", "model", "description", "tenant__name", "tenant__slug"]
    ordering = ["-seq"]
    show_full_result_count = False  # a large table: no COUNT(*) of everything

    def get_queryset(self, request: HttpRequest) -> QuerySet[CreditTransaction]:
        return super().get_queryset(request).select_related("tenant", "actor_user")

    @display(description="Kind", ordering="kind", label=KIND_LABELS)
    def kind_label(self, obj: CreditTransaction) -> tuple[str, str]:
        return obj.kind, obj.get_kind_display()

    @display(description="Amount", ordering="amount")
    def amount_display(self, obj: CreditTransaction) -> str:
        return f"{obj.amount:+,.2f}" if obj.amount else "0.00"

    @display(description="Balance after")
    def balance_after_display(self, obj: CreditTransaction) -> str:
        return credits_text(obj.balance_after)


@admin.register(Reservation)
class ReservationAdmin(AuditHistoryMixin, ReadOnlyAdmin):
    list_display = ["created_at", "tenant", "amount", "status", "expires_at", "settled_amount", "model"]
    list_select_related = ["tenant"]
    list_filter = ["status", ("tenant", AutocompleteSelectFilter)]
    search_fields = ["tenant__name", "tenant__slug", "model"]
    ordering = ["-created_at"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Reservation]:
        return super().get_queryset(request).select_related("tenant")


class ThresholdAddForm(forms.ModelForm):
    class Meta:
        model = LowBalanceThreshold
        fields = ["tenant", "threshold"]


@admin.register(LowBalanceThreshold)
class LowBalanceThresholdAdmin(AuditHistoryMixin, ReadOnlyAdmin):
    """Alerts when a tenant's balance falls below a line (once per crossing); added and removed
    through the services (audited); never edited (remove it and add another)."""

    list_display = [
        "tenant_display",
        "threshold",
        "below",
        "balance_display",
        "last_crossed_at",
        "alerts_sent",
    ]
    list_select_related = ["tenant", "account"]
    list_filter = ["below", ("tenant", AutocompleteSelectFilter)]
    search_fields = ["tenant__name", "tenant__slug"]
    autocomplete_fields = ["tenant"]
    ordering = ["tenant__name", "-threshold"]
    actions: list[str] = []  # the site's "delete selected", through delete_queryset

    def get_queryset(self, request: HttpRequest) -> QuerySet[LowBalanceThreshold]:
        return super().get_queryset(request).select_related("tenant", "account")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_admin_platform_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_admin_platform_admin(request.user)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ThresholdAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["tenant", "threshold"]
        return ["tenant_display", "threshold", "below", "balance_display", "last_crossed_at", "alerts_sent"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else self.get_fields(request, obj)

    @display(description="Tenant", ordering="tenant__name")
    def tenant_display(self, obj: LowBalanceThreshold) -> str:
        return tenant_link(obj.tenant)

    @display(description="Balance now")
    def balance_display(self, obj: LowBalanceThreshold) -> str:
        return admin_link(obj.account, credits_text(obj.account.balance))

    def save_model(self, request: HttpRequest, obj: LowBalanceThreshold, form: Any, change: bool) -> None:
        created = services.threshold_create(
            tenant=form.cleaned_data["tenant"],
            actor=actor_of(request),
            threshold=form.cleaned_data["threshold"],
        )
        obj.pk = created.pk
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: LowBalanceThreshold) -> None:
        services.threshold_delete(threshold=obj, actor=actor_of(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[LowBalanceThreshold]) -> None:
        for threshold in queryset.order_by("pk"):
            services.threshold_delete(threshold=threshold, actor=actor_of(request))
