from typing import Any

import django_otp.plugins.otp_totp.admin  # noqa: F401  # registers django-otp's admin, replaced below
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from accounts.models import EncryptedTOTPDevice, User
from accounts.services.users import ADMIN_EDITABLE_FIELDS, user_save_from_admin
from core.admin_bypass import PlatformStaffAdminMixin, ReadOnlyAdmin

admin.site.unregister(Group)
# django-otp's device admin edits the key and draws the seed as a QR code; seeds are encrypted at
# rest and shown to their owner once, at enrolment, so the admin shows devices without them.
admin.site.unregister(TOTPDevice)


class QuartermasterUserChangeForm(UserChangeForm):
    """Django's form treats `username` as the login field (UsernameField), which crashes on our
    optional username left empty; here it is an ordinary optional field (e-mail is the login)."""

    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"
        field_classes: dict[str, Any] = {}


@admin.register(User)
class UserAdmin(PlatformStaffAdminMixin, BaseUserAdmin, ModelAdmin):
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
