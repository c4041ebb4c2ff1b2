"""The back office for people and access: users (unlock, with a reason), API keys (revoke, with
a reason), sessions, authenticators and backup codes, and the failed-login records.

Every change goes through accounts' services, which audit it; third-party tables (django-otp's
backup codes, django-axes' records) are shown read-only with our own admins, in place of theirs.
"""

from typing import Any

import axes.admin  # noqa: F401  # registers django-axes' admins, replaced below
import django_otp.plugins.otp_static.admin  # registers django-otp's admin, replaced below
import django_otp.plugins.otp_totp.admin  # noqa: F401  # registers django-otp's admin, replaced below
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import AutocompleteSelectFilter
from unfold.decorators import display
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from accounts import permissions as registry
from accounts import services
from accounts.models import ApiKey, BackupCodes, EncryptedTOTPDevice, User, UserSession
from accounts.services.users import ADMIN_EDITABLE_FIELDS, user_save_from_admin
from audit.admin import AuditHistoryMixin
from core.admin_actions import form_action
from core.admin_bypass import PlatformStaffAdminMixin, ReadOnlyAdmin, is_admin_platform_admin

admin.site.unregister(Group)
# django-otp's device admin edits the key and draws the seed as a QR code; seeds are encrypted at
# rest and shown to their owner once, at enrolment, so the admin shows devices without them.
admin.site.unregister(TOTPDevice)
# Backup codes (stored as keyed hashes) and the lockout records: read-only, ours below.
admin.site.unregister(StaticDevice)
for _model in (AccessAttempt, AccessLog, AccessFailureLog):
    admin.site.unregister(_model)


def _actor(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # the admin site lets only signed-in platform staff this far
    return user


class QuartermasterUserChangeForm(UserChangeForm):
    """Django's form treats `username` as the login field (UsernameField), which crashes on our
    optional username left empty; here it is an ordinary optional field (e-mail is the login)."""

    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"
        field_classes: dict[str, Any] = {}


@admin.register(User)
class UserAdmin(AuditHistoryMixin, PlatformStaffAdminMixin, BaseUserAdmin, ModelAdmin):
    form = QuartermasterUserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    ordering = ["email"]
    list_display = ["email", "full_name", "platform_role", "is_active", "last_login", "date_joined"]
    list_filter = ["platform_role", "is_active", "is_staff"]
    search_fields = ["email", "full_name", "username"]
    readonly_fields = ["last_login", "date_joined", "last_seen_at"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name", "username")}),
        ("Platform", {"fields": ("platform_role", "is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined", "last_seen_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    actions = ["unlock_selected"]

    def has_unlock_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_admin_platform_admin(request.user)

    @admin.action(description="Unlock selected users (lift failed-login lockouts)", permissions=["unlock"])
    def unlock_selected(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        actor = _actor(request)
        return form_action(
            self,
            request,
            queryset,
            action="unlock_selected",
            title="Unlock users",
            intro="Lifts every address's lockout and the account's backoff now, not after the cool-off.",
            apply=lambda user, data: services.account_unlock(user=user, actor=actor, reason=data["reason"]),
            done="Unlocked",
        )

    def save_model(self, request: Any, obj: User, form: Any, change: bool) -> None:
        before = {}
        if change:
            previous = User.objects.get(pk=obj.pk)
            before = {f: getattr(previous, f) for f in ADMIN_EDITABLE_FIELDS}
        user_save_from_admin(user=obj, actor=request.user, created=not change, before=before)


@admin.register(EncryptedTOTPDevice)
class TOTPDeviceAdmin(ReadOnlyAdmin):
    """Who has an authenticator, and its state. Never the seed; no edits (enrolment and removal
    go through the audited services, by the device's owner)."""

    list_display = ["user", "name", "confirmed", "created_at", "last_used_at", "throttling_failure_count"]
    list_select_related = ["user"]
    list_filter = ["confirmed"]
    search_fields = ["user__email"]
    ordering = ["user__email", "id"]
    fields = [
        "user",
        "name",
        "confirmed",
        "created_at",
        "last_used_at",
        "step",
        "digits",
        "tolerance",
        "drift",
        "throttling_failure_timestamp",
        "throttling_failure_count",
    ]
    readonly_fields = fields


@admin.register(BackupCodes)
class BackupCodesAdmin(ReadOnlyAdmin):
    """Who has backup codes left, and how many. The codes are stored as keyed hashes; they are
    shown once, to their owner, when two-factor authentication is turned on."""

    list_display = ["user", "codes_left"]
    list_select_related = ["user"]
    search_fields = ["user__email"]
    ordering = ["user__email", "id"]
    fields = ["user", "codes_left"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[StaticDevice]:
        return super().get_queryset(request).select_related("user").annotate(codes=Count("token_set"))

    @display(description="Codes left", ordering="codes")
    def codes_left(self, obj: StaticDevice) -> int:
        return int(getattr(obj, "codes", 0))  # annotated in get_queryset


@admin.register(ApiKey)
class ApiKeyAdmin(AuditHistoryMixin, ReadOnlyAdmin):
    """Tenants' API keys: prefix, scopes, last use; revoked with a reason (accounts' service,
    audited). Keys are created by their tenants (the key is shown once, to its creator)."""

    list_display = [
        "name",
        "prefix",
        "tenant",
        "created_by",
        "status",
        "last_used_at",
        "expires_at",
        "created_at",
    ]
    list_select_related = ["tenant", "created_by"]
    list_filter = [("tenant", AutocompleteSelectFilter), "revoked_at", "last_used_at"]
    search_fields = ["name", "prefix", "tenant__name", "tenant__slug", "created_by__email"]
    ordering = ["-created_at", "-id"]
    actions = ["revoke_selected"]
    fields = [
        "name",
        "prefix",
        "tenant",
        "created_by",
        "status",
        "scopes",
        "allowed_ips",
        "rate_limit_per_minute",
        "expires_at",
        "last_used_at",
        "last_used_ip",
        "revoked_at",
        "revoked_by",
        "created_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        return super().get_queryset(request).select_related("tenant", "created_by", "revoked_by")

    def has_revoke_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_admin_platform_admin(request.user)

    @display(description="Status", label={"active": "success", "revoked": "danger", "expired": "warning"})
    def status(self, obj: ApiKey) -> tuple[str, str]:
        if obj.revoked_at is not None:
            return "revoked", "Revoked"
        return ("active", "Active") if obj.is_usable else ("expired", "Expired")

    @admin.action(description="Revoke selected API keys", permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> HttpResponse | None:
        actor = _actor(request)
        # A platform admin may do everything in every tenant (the gate's rule): every permission.
        every = frozenset(p.key for p in registry.REGISTRY)
        return form_action(
            self,
            request,
            queryset.select_related("tenant"),
            action="revoke_selected",
            title="Revoke API keys",
            intro="Each key's next request is refused.",
            apply=lambda key, data: services.api_key_revoke(
                api_key=key, actor=actor, actor_permissions=every, reason=data["reason"]
            ),
            done="Revoked",
            danger=True,
        )


@admin.register(UserSession)
class UserSessionAdmin(AuditHistoryMixin, ReadOnlyAdmin):
    """Sessions (one per login and device): who, from where, until when; revoked through the
    service (audited)."""

    list_display = [
        "user",
        "device_name",
        "ip_address",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_select_related = ["user"]
    list_filter = ["revoked_at", "mfa_verified", "last_used_at"]
    search_fields = ["user__email", "device_name", "ip_address"]
    ordering = ["-last_used_at", "-id"]
    actions = ["revoke_selected"]
    fields = [
        "user",
        "device_name",
        "ip_address",
        "user_agent",
        "mfa_verified",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "revoke_reason",
    ]
    readonly_fields = fields
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[UserSession]:
        return super().get_queryset(request).select_related("user")

    def has_revoke_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_admin_platform_admin(request.user)

    @admin.action(description="Revoke selected sessions (sign those devices out)", permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[UserSession]) -> None:
        actor = _actor(request)
        for session in queryset.order_by("pk"):
            services.session_revoke(session=session, actor=actor, reason="admin")
        self.message_user(request, "Revoked the selected sessions.")


class _AxesReadOnly(ReadOnlyAdmin):
    list_display = ["attempt_time", "username", "ip_address", "user_agent"]
    search_fields = ["username", "ip_address"]
    ordering = ["-attempt_time"]
    show_full_result_count = False


@admin.register(AccessAttempt)
class AccessAttemptAdmin(_AxesReadOnly):
    """Failed logins counted per account and address (django-axes): the lockouts. Lift them with
    the users' "Unlock" action."""

    list_display = ["attempt_time", "username", "ip_address", "failures_since_start", "user_agent"]


@admin.register(AccessFailureLog)
class AccessFailureLogAdmin(_AxesReadOnly):
    list_display = ["attempt_time", "username", "ip_address", "locked_out", "user_agent"]
    list_filter = ["locked_out"]


@admin.register(AccessLog)
class AccessLogAdmin(_AxesReadOnly):
    list_display = ["attempt_time", "logout_time", "username", "ip_address", "user_agent"]
