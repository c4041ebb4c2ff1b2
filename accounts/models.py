"""Users: the custom AUTH_USER_MODEL, from the first migration."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

import structlog
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ObjectDoesNotExist
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import ScopedManager

from core import crypto
from core.models import ClockDateTimeField

logger = structlog.get_logger(__name__)

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
    # An operator's lock (accounts.services.auth.account_lock): the login refuses the account
    # until staff unlock it; unlike the failed-login lockout it has no cool-off.
    locked_at = models.DateTimeField(null=True, blank=True)
    # db_default: rows inserted without the column (older code during a deploy, a migration test
    # on an earlier model state) get "" rather than failing NOT NULL.
    locked_reason = models.CharField(max_length=500, blank=True, default="", db_default="")
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
        user = self.user.email if UserSession.user.is_cached(self) else self.user_id
        return f"{self.device_name or 'Session'} of {user}"

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
    created_at = ClockDateTimeField(auto_now_add=True)
    updated_at = ClockDateTimeField(auto_now=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        verbose_name = "API key"
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


# --- Two-factor: TOTP seeds, encrypted at rest ------------------------------------------------------

TOTP_SEED_BYTES = 20  # 160 bits: RFC 4226's recommended length, django-otp's default
# What django-otp's `key` column holds instead of the seed. Not hexadecimal, so django-otp's own
# TOTPDevice.bin_key raises on it rather than computing codes from a known key; a check constraint
# (migration 0008) refuses any other value, so no code path can store a seed there again.
TOTP_KEY_PLACEHOLDER = "encrypted: see accounts_totpseed"


class TOTPSeedUnavailable(crypto.DecryptionError):
    """A TOTP device has no stored seed (its row in accounts_totpseed is missing)."""


class TOTPSeed(models.Model):
    """The secret of one TOTP device, encrypted with the key ring (core.crypto), one row per device.

    django-otp keeps the seed as hex in its own `key` column; that column holds only
    TOTP_KEY_PLACEHOLDER here. Why a table of our own rather than the ciphertext in that column:
    a core.crypto token for a 20-byte seed is 68 characters plus the key id (1-32 characters), up
    to 100, and the column holds 80. The primary key is the device's id, and the associated data
    names that device row and its `key` field, so a ciphertext copied to another device's row
    fails to decrypt (verification then fails; see EncryptedTOTPDevice.verify_token).
    """

    ENCRYPTED_FIELDS = ("ciphertext",)

    device = models.OneToOneField(
        TOTPDevice, on_delete=models.CASCADE, primary_key=True, related_name="encrypted_seed"
    )
    ciphertext = models.TextField()

    def __str__(self) -> str:
        return f"seed of TOTP device {self.device_id}"

    @staticmethod
    def context_for(device_id: Any) -> crypto.Context:
        """Where a seed lives: the `key` field of that row of django-otp's device table."""
        return crypto.Context(tenant_id=None, table=TOTPDevice._meta.db_table, field="key", row_id=device_id)

    def encryption_context(self, field: str) -> crypto.Context:
        if field not in self.ENCRYPTED_FIELDS:
            raise ValueError(f"{field!r} is not an encrypted field of TOTPSeed")
        return self.context_for(self.device_id)

    def seal(self, seed: bytes) -> None:
        """Store `seed` encrypted under the key ring's primary key (the device must be set)."""
        self.ciphertext = crypto.encrypt(seed, context=self.encryption_context("ciphertext"))

    def open(self) -> bytes:
        """The seed. Raises crypto.DecryptionError if it cannot be decrypted here."""
        return crypto.decrypt(self.ciphertext, context=self.encryption_context("ciphertext"))


class EncryptedTOTPDevice(TOTPDevice):
    """django-otp's TOTP device with its seed read from TOTPSeed: every TOTP use goes through it.

    A proxy: the same table, django-otp's verification, throttling, drift and replay protection
    (`last_t`) unchanged; only where the key comes from differs.
    """

    class Meta:
        proxy = True
        verbose_name = "authenticator app"

    @property
    def bin_key(self) -> bytes:
        try:
            sealed = self.encrypted_seed
        except ObjectDoesNotExist as exc:
            raise TOTPSeedUnavailable(f"TOTP device {self.pk} has no stored seed") from exc
        return sealed.open()

    def verify_token(self, token: Any) -> bool:
        # A seed that cannot be decrypted (moved from another row, tampered with, its key gone
        # from the ring) fails closed: the code is refused, never a server error.
        try:
            return bool(super().verify_token(token))
        except crypto.DecryptionError as exc:
            logger.error("totp.seed_unreadable", device_id=self.pk, user_id=str(self.user_id), error=str(exc))
            return False


class BackupCodes(StaticDevice):
    """django-otp's static device, which holds a user's backup codes, under a name people read
    (the back office lists it as "Backup codes", not "Static devices")."""

    class Meta:
        proxy = True
        verbose_name = "backup codes"
        verbose_name_plural = "backup codes"
