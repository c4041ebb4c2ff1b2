"""Quartermaster settings: one module, every value from the environment (see .env.example).

Production differs from development only by environment variables. `DJANGO_ENV` is
`development` (default), `test` or `production`.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, unquote

import environ
from django.core.exceptions import ImproperlyConfigured

from config.channel_layers import channel_layers

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be development, test or production, not {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"
TESTING = DJANGO_ENV == "test" or "pytest" in sys.modules
DATA_DIR = Path(env.str("QM_DATA_DIR", default=str(BASE_DIR / ".data")))


def _development_secret_key() -> str:
    """A random key generated once per checkout and kept in .data/ (git-ignored)."""
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
# Previous keys, still accepted while they are rotated out (signed values, backup-code hashes).
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Production refuses to start without it: "
            "generate one with `python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
        )
    SECRET_KEY = _development_secret_key()

DEBUG = env.bool("DJANGO_DEBUG", default=DJANGO_ENV == "development")
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_prometheus",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "channels",
    "pgtrigger",
    "axes",
    "guardian",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "core",
    "accounts",
    "tenants",
    "alerts",
    "billing",
    "agents",
    "insights",
    "audit",
    "console",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "core.middleware.RequestIdMiddleware",
    "core.hygiene.InputHygieneMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
    # From here to BrowserOnlyEndMiddleware: the console's and the admin's; the JSON API under
    # /api/v1/ skips them (core/middleware.py says why and how).
    "core.middleware.BrowserOnlyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.admin_bypass.AdminPlatformBypassMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "axes.middleware.AxesMiddleware",
    "core.middleware.BrowserOnlyEndMiddleware",
    "core.middleware.ApiErrorMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: PostgreSQL only. `make run` / `make test` set DATABASE_URL (core/devdb.py).
if not env.str("DATABASE_URL", default=""):
    if PRODUCTION:
        raise ImproperlyConfigured(
            "DATABASE_URL is not set: production needs postgresql://USER:PASSWORD@HOST:PORT/NAME."
        )
    # Development: the embedded server's socket (core/devdb.py), so `manage.py` works on its own
    # while `make run` holds the server up. Nothing connects until a query is made.
    os.environ["DATABASE_URL"] = (
        f"postgresql://quartermaster@{quote(str(DATA_DIR / 'pg'), safe='')}/quartermaster"
    )


def _database(var: str) -> dict:
    config = env.db_url(var, engine="django.db.backends.postgresql")
    # libpq's form for a Unix socket is a percent-encoded host: postgresql://user@%2Fpath/db
    config["HOST"] = unquote(config.get("HOST", ""))
    return config


DATABASES = {"default": _database("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
# A persistent connection is checked before the first query of each request and task; the check
# asks the socket, not the database (core/postgresql/base.py), so it costs no round trip.
DATABASES["default"]["ENGINE"] = "core.postgresql"
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Lets two test runs share one server (pytest-xdist adds its own suffix on top).
if env.str("DATABASE_TEST_NAME", default=""):
    DATABASES["default"]["TEST"] = {"NAME": env.str("DATABASE_TEST_NAME")}
DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = "quartermaster"
# psycopg prepares a statement once it has run this many times on a connection. Only the hot
# path's server-binding cursors (core.rows.prepared_cursor) are prepared: Django's own cursors
# bind on the client. Django's default (None) would prepare nothing. Behind PgBouncer in
# transaction mode, this needs PgBouncer >= 1.21 with max_prepared_statements set.
DATABASES["default"]["OPTIONS"]["prepare_threshold"] = env.int("DATABASE_PREPARE_THRESHOLD", default=5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses locked-out accounts before a password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Platform staff must pass a second factor (always on in production).
QM_STAFF_REQUIRE_2FA = env.bool("QM_STAFF_REQUIRE_2FA", default=PRODUCTION)
# The address e-mailed links (invites, password resets) start with. Unset: the URL `make run`
# serves, from the QM_HOST and QM_PORT it passes to its processes (core/runner.py).
_QM_HOST = env.str("QM_HOST", default="") or "127.0.0.1"
# A listen-everywhere host is no address to link to: links name this machine instead.
_QM_LINK_HOST = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(_QM_HOST, _QM_HOST)  # noqa: S104
QM_PUBLIC_URL = (
    env.str("QM_PUBLIC_URL", default="")
    or f"http://{_QM_LINK_HOST}:{int(env.str('QM_PORT', default='') or 8000)}"
)
QM_INVITE_DAYS = env.int("QM_INVITE_DAYS", default=7)

# Object permissions (django-guardian): no anonymous user object.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

# Lockout (docs/security.md, "Failed logins"). django-axes locks an account for one client
# address: N failures from that address lock that address out of that account until the
# cool-off passes or staff unlock it; the owner, elsewhere, still logs in. Across all addresses
# (a botnet), accounts.services.lockout adds a per-account backoff that a known device or a
# second factor passes. Every failure is kept in axes' failure log for that count.
AXES_FAILURE_LIMIT = env.int("QM_LOCKOUT_THRESHOLD", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("QM_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# Failures from every address within the window after which the per-account backoff starts.
QM_LOCKOUT_ACCOUNT_THRESHOLD = env.int("QM_LOCKOUT_ACCOUNT_THRESHOLD", default=20)
QM_LOCKOUT_ACCOUNT_WINDOW = timedelta(hours=env.int("QM_LOCKOUT_ACCOUNT_WINDOW_HOURS", default=24))
# How long a device that logged in stays "known" (its signed device token is accepted).
QM_KNOWN_DEVICE_DAYS = env.int("QM_KNOWN_DEVICE_DAYS", default=90)
AXES_RESET_ON_SUCCESS = True  # on the user_logged_in signal, which session_start sends
# The API answers a lockout itself (429 JSON with Retry-After); the admin gets a plain page.
AXES_LOCKOUT_CALLABLE = "accounts.services.auth.axes_lockout_response"
AXES_USERNAME_FORM_FIELD = "email"
AXES_VERBOSE = False
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_CLIENT_IP_CALLABLE = "core.context.client_ip"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# No composition rules (NIST 800-63B): length and a common-password list do the work.
if TESTING:
    # Fast hashing keeps the suite quick; production keeps Django's PBKDF2 default.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Production serves collected files from STATIC_ROOT; development serves them from the apps.
STATIC_ROOT = (
    env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles") if PRODUCTION else "") or None
)
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Cache, Celery, Channels: Redis when REDIS_URL is set, in-process otherwise.
REDIS_URL = env.str("REDIS_URL", default="")
# Tests keep the cache in local memory (isolated, nothing shared to flush); tests that need the
# real Redis configure it themselves from REDIS_URL.
if REDIS_URL and not TESTING:
    CACHES = {
        "default": {
            # Django's Redis cache, keeping one client per connection pool (core/cache.py).
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="qm"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def celery_broker_url(*, broker_url: str, redis_url: str, database: dict) -> str:
    """The broker: CELERY_BROKER_URL, else REDIS_URL, else a queue in the application's PostgreSQL.

    The last is kombu's SQLAlchemy transport with SKIP LOCKED (config/broker.py), on the same
    database and role as DATABASE_URL, so `make run` runs the worker and beat for real on a
    machine without Redis (docs/architecture.md, "Background work").
    """
    if broker_url:
        return broker_url
    if redis_url:
        return redis_url
    credentials = quote(database.get("USER") or "", safe="")
    if database.get("PASSWORD"):
        credentials += ":" + quote(database["PASSWORD"], safe="")
    host = database.get("HOST") or ""
    port = f":{database['PORT']}" if database.get("PORT") else ""
    query = "application_name=quartermaster-broker"
    if host.startswith("/"):  # a Unix socket: libpq takes its directory as the host parameter
        query = f"host={quote(host, safe='')}&{query}"
        host, port = "", ""
    return f"qmpg+postgresql+psycopg://{credentials}@{host}{port}/{quote(database['NAME'], safe='')}?{query}"


CELERY_BROKER_URL = celery_broker_url(
    broker_url=env.str("CELERY_BROKER_URL", default=""), redis_url=REDIS_URL, database=DATABASES["default"]
)
# Tests run tasks in-process, at once; elsewhere a worker runs them (`make run` starts one).
CELERY_TASK_ALWAYS_EAGER = TESTING or env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
if CELERY_BROKER_URL.startswith("qmpg+"):
    # The PostgreSQL broker polls: a queued task starts within this many seconds.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"polling_interval": env.float("CELERY_POLLING_INTERVAL", default=0.1)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# The live stream's channel layer reaches every process: Redis when REDIS_URL is set, else
# PostgreSQL's LISTEN/NOTIFY (config/channel_layers.py).
CHANNEL_LAYERS = channel_layers(redis_url=REDIS_URL, testing=TESTING)
# Where browsers open the stream (/ws/...): uvicorn beside gunicorn (`make run` passes
# QM_STREAM_PORT); empty: the page's own origin (a proxy routes /ws/ to uvicorn). Websockets are
# accepted from the console's origin (QM_PUBLIC_URL), CSRF_TRUSTED_ORIGINS and these.
QM_STREAM_PORT = env.int("QM_STREAM_PORT", default=0)
QM_STREAM_URL = env.str("QM_STREAM_URL", default="") or (
    f"ws://{_QM_LINK_HOST}:{QM_STREAM_PORT}" if QM_STREAM_PORT else ""
)
QM_STREAM_ALLOWED_ORIGINS = env.list("QM_STREAM_ALLOWED_ORIGINS", default=[])
QM_STREAM_TICKET_SECONDS = env.int("QM_STREAM_TICKET_SECONDS", default=60)
# Closed websocket connections are kept this many days, then deleted (daily housekeeping).
QM_STREAM_CONNECTION_RETENTION_DAYS = env.int("QM_STREAM_CONNECTION_RETENTION_DAYS", default=30)

# --- REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.SessionJWTAuthentication",
        "accounts.api_key_auth.ApiKeyAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.QuartermasterAutoSchema",
    # Keyed on core.context.client_ip, never on a header the client writes (core/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.AnonRateThrottle",
        "core.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="1200/min"),
        # Login, sign-up, reset and refresh, per client IP (the lockout guards each account).
        "auth": env.str("API_THROTTLE_AUTH", default="30/min") if not TESTING else "100000/min",
    },
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    # JSON in, JSON out. Bodies pass the edge rules (core/hygiene.py). No browsable API: it
    # cannot authenticate (no session login on the API) and calls back into views' checks;
    # the interactive documentation is Swagger UI at /api/docs/.
    "DEFAULT_PARSER_CLASSES": ["core.hygiene.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["core.hygiene.JSONRenderer"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if TESTING:
    REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = []
# Request bodies: at most this many bytes and levels of JSON (core/hygiene.py). A usage batch
# (1,000 events with their metadata) has a larger allowance of its own.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
API_MAX_BATCH_BODY_BYTES = env.int("API_MAX_BATCH_BODY_BYTES", default=8 * 1024 * 1024)
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=32)

# simplejwt signs and checks the tokens; sessions, rotation and reuse detection are ours
# (accounts.services.auth), so none of its view settings (rotation, blacklist, last login) apply.
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=14)),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Quartermaster API",
    "DESCRIPTION": "Control plane of a multi-tenant AI-agent platform.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # The error body's family (core.schema.ErrorSerializer): a name of its own, not TypeEnum.
    "ENUM_NAME_OVERRIDES": {"ErrorTypeEnum": "core.schema.ERROR_TYPE_CHOICES"},
}

# --- Admin (django-unfold)
UNFOLD = {
    "SITE_TITLE": "Quartermaster",
    "SITE_HEADER": "Quartermaster back office",
    "SITE_SYMBOL": "hub",
    "SHOW_HISTORY": True,
    # The index is the platform's dashboard (KPIs and 30-day charts from the daily analytics).
    "DASHBOARD_CALLBACK": "insights.dashboard.dashboard_callback",
}

# --- Security
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=True)
# The number of reverse proxies in front of the app whose X-Forwarded-For we believe.
QM_TRUSTED_PROXY_COUNT = env.int("QM_TRUSTED_PROXY_COUNT", default=0)

EMAIL_BACKEND = env.str(
    "DJANGO_EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env.str("DJANGO_EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("DJANGO_EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("DJANGO_EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("DJANGO_EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("DJANGO_EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="Quartermaster <noreply@localhost>")

# --- Logging: structlog JSON lines, each with the request id (core/logging.py).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {"()": "core.logging.make_formatter", "fmt": LOG_FORMAT},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Replace Django's own console handlers, so every line is written once, as JSON.
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "INFO"},
    },
}

# --- Tenant configuration: settings, feature flags, the secret locker (tenants/, core/crypto.py)
# Which environment's settings and flags this deployment reads (rows are kept per environment).
QM_ENVIRONMENT = env.str("QM_ENVIRONMENT", default="production" if PRODUCTION else "development")
if QM_ENVIRONMENT not in {"development", "staging", "production"}:
    raise ImproperlyConfigured(
        f"QM_ENVIRONMENT must be development, staging or production, not {QM_ENVIRONMENT!r}"
    )


def _development_encryption_keys() -> str:
    """A key ring generated once per checkout and kept in .data/ (git-ignored, mode 600)."""
    import os

    from core.crypto import generate_key

    path = DATA_DIR / "encryption_keys"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked into place: two processes starting at once (test workers)
        # agree on one key, and nobody reads a half-written file.
        tmp = path.with_name(f".encryption_keys.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"dev1:{generate_key()}\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


# AES-256-GCM keys for values encrypted at rest: "kid1:base64key,kid2:base64key". The first key
# encrypts, all decrypt; rotate with `manage.py rotate_encryption_key` (see .env.example).
QM_ENCRYPTION_KEYS = env.str("QM_ENCRYPTION_KEYS", default="")
if not QM_ENCRYPTION_KEYS:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "QM_ENCRYPTION_KEYS is not set. Production refuses to start without it: generate a key "
            "with `python -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())'` "
            "and set QM_ENCRYPTION_KEYS=k1:<that key>. Keep it safe: without it, secrets are lost."
        )
    QM_ENCRYPTION_KEYS = _development_encryption_keys()


def _check_encryption_keys(spec: str) -> None:
    # Fail at start-up, not at the first encryption hours later.
    from core.crypto import KeyRingError, parse_key_ring

    try:
        parse_key_ring(spec)
    except KeyRingError as exc:
        raise ImproperlyConfigured(f"QM_ENCRYPTION_KEYS is malformed: {exc}") from exc


_check_encryption_keys(QM_ENCRYPTION_KEYS)

# --- Billing (billing/): reservations, usage reports, idempotency, periodic tasks
# How long a credit hold lasts unless the request says otherwise, and the longest one may ask.
QM_BILLING_RESERVATION_MAX_TTL_SECONDS = env.int("QM_BILLING_RESERVATION_MAX_TTL_SECONDS", default=86400)
# Usage reported with an occurred_at older than this is refused (staff adjust instead).
QM_BILLING_USAGE_MAX_AGE_HOURS = env.int("QM_BILLING_USAGE_MAX_AGE_HOURS", default=168)
# Days a stored idempotent response can be replayed; the ledger refuses a reused key forever.
QM_BILLING_IDEMPOTENCY_DAYS = env.int("QM_BILLING_IDEMPOTENCY_DAYS", default=30)
# Seconds between runs of the reservation expiry task (django-celery-beat).
QM_BILLING_EXPIRY_INTERVAL_SECONDS = env.int("QM_BILLING_EXPIRY_INTERVAL_SECONDS", default=60)
# --- Audit (audit/): entries older than the retention archived weekly (audit.tasks), verified
# before removal; compressed JSON Lines in QM_AUDIT_ARCHIVE_DIR (empty: .data/archive/).
QM_AUDIT_RETENTION_DAYS = env.int("QM_AUDIT_RETENTION_DAYS", default=90)
QM_AUDIT_ARCHIVE_DIR = env.str("QM_AUDIT_ARCHIVE_DIR", default="")
# --- Housekeeping (issue 14): user sessions are removed QM_SESSION_RETENTION_DAYS after they
# ended (accounts.services.housekeeping).
QM_SESSION_RETENTION_DAYS = env.int("QM_SESSION_RETENTION_DAYS", default=30)

# --- Periodic jobs (Celery beat; `make run` runs them; core/tests/test_runner.py checks that
# every periodic task is here). Housekeeping jobs are idempotent and audited once per run that
# did something.
_DAY, _HOUR = 86400.0, 3600.0
CELERY_BEAT_SCHEDULE = {
    "billing-expire-reservations": {
        "task": "billing.expire_reservations",
        "schedule": float(QM_BILLING_EXPIRY_INTERVAL_SECONDS),
    },
    "billing-renew-subscriptions": {"task": "billing.renew_subscriptions", "schedule": _HOUR},
    "billing-prune-idempotency-records": {"task": "billing.prune_idempotency_records", "schedule": _DAY},
    "audit-archive-weekly": {"task": "audit.archive_old_entries", "schedule": 7 * _DAY},
    # Yesterday's and today's analytics recomputed every 15 minutes; recommendations hourly.
    "insights-rollup-daily-analytics": {"task": "insights.rollup_daily_analytics", "schedule": 900.0},
    "insights-refresh-recommendations": {"task": "insights.refresh_recommendations", "schedule": _HOUR},
    # Ended user sessions removed, pending invites past their expiry marked expired,
    # participants' lifecycle stages refreshed.
    "accounts-clean-sessions": {"task": "accounts.clean_sessions", "schedule": _DAY},
    "tenants-expire-invites": {"task": "tenants.expire_invites", "schedule": _DAY},
    "insights-sync-participants": {"task": "insights.sync_participants", "schedule": _DAY},
    "agents-expire-task-leases": {"task": "agents.expire_task_leases", "schedule": 30.0},
    # Container health: hourly aggregates, then 24 h / 30 d retention (agents.services.health).
    "agents-health-housekeeping": {"task": "agents.health_housekeeping", "schedule": 600.0},
    # The last two hours of agent metrics, rolled up from sessions (agents.tasks).
    "agents-rollup-agent-metrics": {"task": "agents.rollup_agent_metrics", "schedule": _HOUR},
    # Expired stream tickets, abandoned and old websocket connections (agents.stream.housekeeping).
    "agents-stream-housekeeping": {"task": "agents.stream_housekeeping", "schedule": _DAY},
}

# --- OpenAPI: each choice set gets a name of its own in the schema (not Status152Enum, TypeEnum)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    **SPECTACULAR_SETTINGS.get("ENUM_NAME_OVERRIDES", {}),  # type: ignore[dict-item]  # a dict if set
    "ReservationStatusEnum": "billing.models.ReservationStatus",
    "SubscriptionStatusEnum": "billing.models.SubscriptionStatus",
    "ModelTierEnum": "billing.models.ModelTier",
    "SettingTypeEnum": "tenants.settings_registry.KIND_VALUES",
    "SettingVersionActionEnum": "tenants.models.SettingAction",
    "FlagEvaluationReasonEnum": "tenants.selectors.FLAG_REASONS",
    "AgentStatusEnum": "agents.models.AgentStatus",
    # Sessions and tasks share one set of statuses (pending, running, completed, failed, cancelled).
    "AgentWorkStatusEnum": "agents.models.SessionStatus",
    "SkillStatusEnum": "agents.models.SkillStatus",
    "SkillCategoryEnum": "agents.models.SkillCategory",
    "AgentRoleEnum": "agents.models.AgentRole",
    "ThinkingModeEnum": "agents.models.ThinkingMode",
    "ActivityTypeEnum": "agents.models.ActivityType",
    "ChannelTypeEnum": "agents.models.ChannelType",
    # A report's status and an hour's worst status are one choice set.
    "HealthStatusEnum": "agents.models.HealthStatus",
    "InterventionTypeEnum": "insights.models.InterventionType",
    # The participant graph's kind (not a KindXXXEnum colliding with other "kind" fields).
    "ParticipantKindEnum": "insights.models.ParticipantKind",
}
