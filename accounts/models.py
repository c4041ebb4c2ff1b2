"""Users: the custom AUTH_USER_MODEL, from the first migration."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django_scopes import ScopedManager

USERNAME_VALIDATOR = RegexValidator(
    r"^[a-z0-9_.-]{3,32}$",
    "3 to 32 characters: lower-case letters, digits, '_', '.' or '-'.",
)


class PlatformRole(models.TextChoices):
    PLATFORM_ADMIN = "platform_admin", "Platform admin"
    PLATFORM_OPERATOR = "platform_operator", "Platform operator"
    NONE = "none", "None"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        """E-mail addresses are stored lower-case, so uniqueness is case-insensitive."""
        return (email or "").strip().lower()

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email=self.normalize_email(username))

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("platform_role", PlatformRole.PLATFORM_ADMIN)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True, max_length=254)
    username = models.CharField(
        max_length=32, unique=True, null=True, blank=True, validators=[USERNAME_VALIDATOR]
    )
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    # is_staff opens the Django admin; platform_role says what the person may do there.
    is_staff = models.BooleanField(default=False)
    platform_role = models.CharField(
        max_length=32, choices=PlatformRole.choices, default=PlatformRole.NONE, db_index=True
    )
    date_joined = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.CheckConstraint(condition=models.Q(email=Lower("email")), name="user_email_lowercase"),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = UserManager.normalize_email(self.email)

    @property
    def is_platform_admin(self) -> bool:
        return self.is_active and self.platform_role == PlatformRole.PLATFORM_ADMIN

    @property
    def is_platform_staff(self) -> bool:
        """Platform admins and operators: may work across tenants in the console."""
        return self.is_active and self.platform_role in (
            PlatformRole.PLATFORM_ADMIN,
            PlatformRole.PLATFORM_OPERATOR,
        )


class Role(models.Model):
    """A named set of registered permissions. System roles have no tenant; custom roles have one.

    Shared system roles rule out django-scopes' manager here (it would hide them); selectors
    always filter by tenant explicitly, and row-level security hides other tenants' custom roles.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50)
    description = models.TextField(blank=True)
    permissions = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    rank = models.PositiveSmallIntegerField(help_text="1-40; owner 40, admin 30, member 20, viewer 10.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-rank", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="role_slug_unique_per_tenant"),
            models.UniqueConstraint(
                fields=["slug"], condition=models.Q(tenant__isnull=True), name="role_system_slug_unique"
            ),
            models.CheckConstraint(condition=models.Q(rank__gte=1, rank__lte=40), name="role_rank_range"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_system(self) -> bool:
        return self.tenant_id is None


class UserSession(models.Model):
    """One login on one device: the family of its rotating refresh tokens.

    Every access and refresh token carries the session id (`sid`); a revoked session stops both
    on the very next request. Presenting an already-rotated refresh token revokes the family.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    device_name = models.CharField(max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    current_refresh_jti = models.CharField(max_length=64)
    previous_refresh_jti = models.CharField(max_length=64, blank=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    mfa_verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-last_used_at", "-id"]
        indexes = [models.Index(fields=["user", "-last_used_at"], name="session_user_idx")]

    def __str__(self) -> str:
        return f"{self.device_name or 'session'} of {self.user_id}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class ApiKey(models.Model):
    """A tenant's key for scripts and agent runtimes. Only its SHA-256 is stored."""

    is_api_key = True  # how request.auth tells a key from a JWT

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=32, help_text="The first characters of the key, shown to find it.")
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = ArrayField(models.CharField(max_length=64), default=list)
    allowed_ips = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    rate_limit_per_minute = models.PositiveIntegerField(default=600)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="apikey_tenant_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rate_limit_per_minute__gte=1), name="apikey_rate_limit_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())
