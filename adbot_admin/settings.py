"""
Settings for adbot-admin: one module, every difference between deployments set
by the environment (and `.env` when present). See `.env.example` for the list.

https://docs.djangoproject.com/en/5.2/ref/settings/
https://django-environ.readthedocs.io/
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env(DEBUG=(bool, False))

# `ENV_FILE` lets the test run (pytest.ini) switch the local `.env` off, so a
# developer's own `.env` never leaks into the suite.
ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE)


def env_raw(name, default=""):
    """Return the variable exactly as set: django-environ reads a value that
    begins with `$` as a reference to another variable, and bcrypt hashes do."""
    return env.ENVIRON.get(name, default)


def split_keys(value):
    """Return the keys in a comma-separated list, blanks dropped."""
    return [key.strip() for key in value.split(",") if key.strip()]


def env_keys(name):
    """Return the comma-separated keys in the variable, exactly as set (`manage.py rotate_jwt_key` writes them)."""
    return split_keys(env_raw(name))


# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
# Missing on purpose: start-up must fail without a key (checks.py explains how to make one).
SECRET_KEY = env_raw("SECRET_KEY")
# Old keys that still verify (signed cookies, password reset links) while SECRET_KEY signs.
SECRET_KEY_FALLBACKS = env_keys("SECRET_KEY_FALLBACKS")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = False
USE_TZ = True
ROOT_URLCONF = "adbot_admin.urls"
WSGI_APPLICATION = "adbot_admin.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Every API path answers with and without a trailing slash itself; a redirect
# would drop a POST body.
APPEND_SLASH = False

# DATABASES
# ------------------------------------------------------------------------------
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Persistent connections. No per-request health check (on PostgreSQL a
# `SELECT 1` before each request's first query): the first statement of a
# request asks again on a fresh connection when the old one died, so a restarted
# database still heals without restarting the app (adbot_admin/statements.py).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The fixed statements (statements.py) are prepared after this many runs on a connection, as psycopg
    # prepares a server-bound statement; Django's ORM queries are bound client-side and never prepared.
    # A transaction-mode PgBouncer needs max_prepared_statements set.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers wait their turn instead of failing with "database is
    # locked": readers never block the writer (WAL), a writer waits up to 10 s
    # for the lock (timeout), and a transaction takes the write lock when it
    # begins (IMMEDIATE), since one that read first could not wait for it.
    # Options in DATABASE_URL win. README, "How far SQLite goes", says when to move to PostgreSQL.
    for option, value in {
        "init_command": "PRAGMA journal_mode=WAL",
        "timeout": 10,
        "transaction_mode": "IMMEDIATE",
    }.items():
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(option, value)

# CACHES
# ------------------------------------------------------------------------------
# Only what may be lost or briefly stale without letting anyone in: rate-limit
# counters and the public gallery's rendered body. Who may act is always read
# from the database (auth_state.py). Several processes must share a Redis
# cache (`redis://...`) for rate limits to hold across them.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://adbot-admin")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # Fail fast when Redis is gone instead of hanging a worker.
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"socket_connect_timeout": 1, "socket_timeout": 1, "retry_on_timeout": False}
    )

# APPS
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "adbot_admin.apps.AdbotAdminSiteConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    # TOTP devices (RFC 6238) for two-factor logins, and their admin-site login form.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "adbot_admin.apps.AdbotAdminConfig",
    "sessions_admin",
    "cms",
]

# The JSON API (/api/, but its docs page) passes the admin site's layers by:
# sessions, `request.user`, OTP, messages, X-Frame-Options and the CSP serve
# HTML pages only (adbot_admin/site_middleware.py). CORS works only when
# CORS_ALLOWED_ORIGINS lists an origin (adbot_admin/cors.py).
MIDDLEWARE = [
    # First, so that every answer is counted, the refusals of the middleware below included.
    "adbot_admin.request_metrics.RequestMetricsMiddleware",
    # The request id, address and user that JSON log lines carry (LOG_FORMAT=json).
    "adbot_admin.logs.RequestContextMiddleware",
    # Before anything reads the Host or the body: an overlong Host and a huge
    # declared Content-Length are refused unread.
    "adbot_admin.request_limits.RequestLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # A plain Django view's bodiless 405 gets the API's error body, whichever middleware follows.
    "adbot_admin.http_errors.MethodNotAllowedBodyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "adbot_admin.cors.ConfiguredCorsMiddleware",
    # Before sessions, CSRF and authentication: a refused address costs no password check.
    "adbot_admin.ip_allowlist.AdminIpAllowlistMiddleware",
    "adbot_admin.site_middleware.SiteSessionMiddleware",
    # Refuses a Host outside ALLOWED_HOSTS (400), on every path.
    "django.middleware.common.CommonMiddleware",
    # The admin site's forms and the API's cookie endpoints (which call its check themselves).
    "django.middleware.csrf.CsrfViewMiddleware",
    "adbot_admin.site_middleware.SiteAuthenticationMiddleware",
    # The admin site's session remembers which TOTP device verified its login (request.user.is_verified()).
    "adbot_admin.site_middleware.SiteOTPMiddleware",
    "adbot_admin.site_middleware.SiteMessageMiddleware",
    "adbot_admin.site_middleware.SiteXFrameOptionsMiddleware",
    "adbot_admin.site_middleware.SiteContentSecurityPolicyMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# AUTHENTICATION
# ------------------------------------------------------------------------------
AUTH_USER_MODEL = "adbot_admin.User"
# https://docs.djangoproject.com/en/5.2/topics/auth/passwords/#using-bcrypt-with-django
# Django's bcrypt hashers, computing at the lowest CPU priority (adbot_admin/hashers.py).
PASSWORD_HASHERS = [
    "adbot_admin.hashers.BCryptSHA256PasswordHasher",
    "adbot_admin.hashers.BCryptPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The bcrypt hash behind `POST /api/cms/login` (as made by `manage.py hash_password`).
ADMIN_PASSWORD_HASH = env_raw("ADMIN_PASSWORD_HASH")
# False turns the shared CMS password off: POST /api/cms/login answers 404 and the
# CMS page offers only each admin's own login.
CMS_PASSWORD_LOGIN = env.bool("CMS_PASSWORD_LOGIN", default=True)

# TWO-FACTOR AUTHENTICATION
# ------------------------------------------------------------------------------
# https://django-otp-official.readthedocs.io/en/stable/overview.html#settings
# When true, an admin without a confirmed TOTP device may log in, but every
# admin endpoint except /api/auth/2fa/*, /api/auth/me and /api/auth/logout
# answers 403 mfa_enrollment_required, and the admin site refuses them.
REQUIRE_ADMIN_2FA = env.bool("REQUIRE_ADMIN_2FA", default=False)
# How old a token's `auth_time` (the last time its user proved who they are: a
# login or POST /api/auth/reauthenticate) may be for a sensitive action; past it
# the action answers 403 reauthentication_required. A refresh never renews it.
REAUTH_MAX_AGE = env.int("REAUTH_MAX_AGE", default=300)
# PASSKEYS (WebAuthn)
# https://www.w3.org/TR/webauthn-3/#relying-party-identifier
# The relying-party ID passkeys are bound to: this site's domain or a parent of
# it, never an IP address. A passkey made for one RP ID works for no other.
WEBAUTHN_RP_ID = env("WEBAUTHN_RP_ID", default="localhost")
# The name an authenticator shows beside the account.
WEBAUTHN_RP_NAME = env("WEBAUTHN_RP_NAME", default="adbot-admin")
# The exact origins (scheme://host[:port]) whose pages may sign in with a passkey;
# each must sit under WEBAUTHN_RP_ID and be served here (ALLOWED_HOSTS) or trusted
# (CSRF_TRUSTED_ORIGINS, CORS_ALLOWED_ORIGINS): checks.py refuses anything else.
WEBAUTHN_ORIGINS = env.list("WEBAUTHN_ORIGINS", default=["http://localhost:8000"])
# The issuer an authenticator app shows beside the account name.
OTP_TOTP_ISSUER = "adbot-admin"
# A code is accepted within one 30-second step of the server's clock either way,
# never a step further because an earlier login drifted (django-otp's default).
OTP_TOTP_SYNC = False
# The admin site shows no TOTP key or QR code of an existing device.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# SECURITY
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Addresses and CIDR networks (IPv4, IPv6) that may reach the admin surface; empty allows all (ip_allowlist.py).
ADMIN_ALLOWED_IPS = env.list("ADMIN_ALLOWED_IPS", default=[])
# At most this many `ip_refused` audit rows a minute, whatever the number of refused addresses.
IP_REFUSED_AUDIT_PER_MINUTE = env.int("IP_REFUSED_AUDIT_PER_MINUTE", default=60)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
if TRUSTED_PROXY_COUNT > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# https://django-csp.readthedocs.io/en/latest/configuration.html
# The admin site and the API docs: their own files only, no inline code, no
# eval. Pages with a policy of their own (/cms/, /media/) keep theirs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        # Swagger UI's stylesheet draws its icons as data: SVG images.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    },
}
CSRF_FAILURE_VIEW = "adbot_admin.http_errors.csrf_failure"
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Exact origins only; `*` is refused by a system check.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False
# Bounds on what a request body may make the server hold in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
DATA_UPLOAD_MAX_NUMBER_FILES = 10
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
# Where uploads past FILE_UPLOAD_MAX_MEMORY_SIZE are streamed while a request runs. Default: the system's temp dir.
FILE_UPLOAD_TEMP_DIR = env.str("FILE_UPLOAD_TEMP_DIR", default="") or None

# STATIC AND MEDIA FILES
# ------------------------------------------------------------------------------
# https://whitenoise.readthedocs.io/
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    # Gallery images (MEDIA_ROOT). See adbot_admin/file_storage.py and the README for S3.
    "default": {
        "BACKEND": "adbot_admin.file_storage.AtomicFileSystemStorage",
        "OPTIONS": {"file_permissions_mode": 0o644, "directory_permissions_mode": 0o755},
    },
    # Session files (SESSIONS_DIR), read by the engine.
    "sessions": {"BACKEND": "adbot_admin.file_storage.SessionFileStorage"},
    "staticfiles": {
        # Without `collectstatic` (tests, a first run) names fall back to unhashed ones.
        "BACKEND": "adbot_admin.file_storage.StaticFilesStorage",
    },
}
# Serve app static files even before `collectstatic` has run.
WHITENOISE_USE_FINDERS = True


def s3_storage(prefix):
    """Return a STORAGES entry for an S3-compatible bucket (django-storages), public keys under `prefix`."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env_raw("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_raw("AWS_SECRET_ACCESS_KEY") or None,
            "custom_domain": env.str("AWS_S3_CUSTOM_DOMAIN", default="") or None,
            "location": prefix,
            "default_acl": None,
            "file_overwrite": True,
            "querystring_auth": False,
        },
    }


# Gallery images: `filesystem` (default: MEDIA_ROOT, a local or shared volume) or `s3`.
# Session files always live in a folder (SESSIONS_DIR, local or a shared volume):
# the engine opens them with SQLite, which needs a file.
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="filesystem")
if MEDIA_STORAGE == "s3":
    STORAGES["default"] = s3_storage("media")

MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
SESSIONS_DIR = env.path("SESSIONS_DIR", default=BASE_DIR / "sessions")

# DJANGO REST FRAMEWORK
# ------------------------------------------------------------------------------
# https://www.django-rest-framework.org/api-guide/settings/
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Engine processes (`Bearer adbot_svc_...`); it passes every other token on.
        "adbot_admin.api.service_token_auth.ServiceTokenAuthentication",
        "adbot_admin.api.authentication.FrontendJWTAuthentication",
        "adbot_admin.api.authentication.AdminJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["adbot_admin.api.permissions.IsAdminRole"],
    # DRF's JSON, byte for byte, written by orjson (api/renderers.py).
    "DEFAULT_RENDERER_CLASSES": ["adbot_admin.api.renderers.OrjsonRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "adbot_admin.api.negotiation.JsonFirstNegotiation",
    "DEFAULT_PARSER_CLASSES": [
        # DRF's, refusing JSON nested past any request of this API (a 400, not a RecursionError).
        "adbot_admin.api.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    # django-filter, refusing values of the wrong type (api/filters.py).
    "DEFAULT_FILTER_BACKENDS": ["adbot_admin.api.filters.StrictFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "adbot_admin.api.pagination.StandardPagination",
    "PAGE_SIZE": 25,
    "EXCEPTION_HANDLER": "adbot_admin.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# SECRETS AT REST
# ------------------------------------------------------------------------------
# AES-256-GCM keys (base64url, 32 bytes) for secrets stored in database columns
# (adbot_admin/field_encryption.py): the first encrypts, all decrypt.
FIELD_ENCRYPTION_KEYS = env_keys("FIELD_ENCRYPTION_KEYS")

# SIMPLE JWT
# ------------------------------------------------------------------------------
# https://django-rest-framework-simplejwt.readthedocs.io/en/latest/settings.html
JWT_SECRET_KEY = env_raw("JWT_SECRET_KEY")
# Old backend keys: their tokens are accepted until they expire, none is signed
# with them (adbot_admin/tokens.py; `manage.py rotate_jwt_key`).
JWT_SECRET_KEY_FALLBACKS = env_keys("JWT_SECRET_KEY_FALLBACKS")
# Tokens minted by the Next.js frontend; unset means none are accepted.
JWT_SECRET = env_raw("JWT_SECRET")
# Other keys the frontend may sign with: the next one before it deploys it, old ones until their tokens expire.
JWT_SECRET_FALLBACKS = env_keys("JWT_SECRET_FALLBACKS")
# Longest lifetime (exp - iat, seconds) of a frontend token accepted; NextAuth's default is 30 days.
FRONTEND_TOKEN_MAX_AGE = env.int("FRONTEND_TOKEN_MAX_AGE", default=86400)
JWT_ISSUER = env.str("JWT_ISSUER", default="") or None
JWT_AUDIENCE = env.str("JWT_AUDIENCE", default="") or None
ACCESS_TOKEN_EXPIRE_MINUTES = env.int("ACCESS_TOKEN_EXPIRE_MINUTES", default=60)
REFRESH_TOKEN_EXPIRE_MINUTES = env.int("REFRESH_TOKEN_EXPIRE_MINUTES", default=60 * 24)
SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    # Never SECRET_KEY: a leaked Django key must not mint API tokens.
    "SIGNING_KEY": JWT_SECRET_KEY,
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=ACCESS_TOKEN_EXPIRE_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(minutes=REFRESH_TOKEN_EXPIRE_MINUTES),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "TOKEN_OBTAIN_SERIALIZER": "adbot_admin.api.serializers.TokenObtainSerializer",
    "TOKEN_REFRESH_SERIALIZER": "adbot_admin.api.serializers.TokenRefreshSerializer",
    "LEEWAY": 0,
}

# RATE LIMITS
# ------------------------------------------------------------------------------
# https://django-ratelimit.readthedocs.io/en/stable/settings.html
RATELIMIT_LOGIN = env.str("RATELIMIT_LOGIN", default="5/m")
RATELIMIT_UPLOAD = env.str("RATELIMIT_UPLOAD", default="20/h")
RATELIMIT_DELETE = env.str("RATELIMIT_DELETE", default="30/h")
# Session exports (POST /api/admin/sessions/export): each hands out live credentials.
RATELIMIT_EXPORT = env.str("RATELIMIT_EXPORT", default="10/h")
# Password checks of all clients together, past their own per-IP budgets. A bcrypt
# check at cost 12 costs about 250 ms of CPU: 4/s keeps logins to one core's worth.
RATELIMIT_PASSWORD_CHECKS = env.str("RATELIMIT_PASSWORD_CHECKS", default="4/s")
# Password checks one process runs at once; past it a login answers 503 at once
# rather than tie up a thread that authenticated reads need.
PASSWORD_CHECK_SLOTS = env.int("PASSWORD_CHECK_SLOTS", default=1)
# Failed password checks for one username within 15 minutes, from any addresses, before that
# username is locked for 15 minutes (lockout.py, in the database); 0 turns the lockout off.
LOGIN_ACCOUNT_FAILURES = env.int("LOGIN_ACCOUNT_FAILURES", default=10)
RATELIMIT_IP_META_KEY = "adbot_admin.client_ip.client_ip"
RATELIMIT_USE_CACHE = "default"
# The limiter fails closed: a broken cache refuses logins instead of letting
# unlimited password guesses through.
RATELIMIT_FAIL_OPEN = False
RATELIMIT_IPV6_MASK = 64

# UPLOADS
# ------------------------------------------------------------------------------
SESSION_MAX_BYTES = env.int("SESSION_MAX_BYTES", default=10 * 1024 * 1024)
# Zip imports (POST /api/admin/sessions/import): entries, and bytes uncompressed in all.
SESSION_IMPORT_MAX_FILES = env.int("SESSION_IMPORT_MAX_FILES", default=1000)
SESSION_IMPORT_MAX_BYTES = env.int("SESSION_IMPORT_MAX_BYTES", default=512 * 1024 * 1024)
# Session exports: off answers 403. One export holds at most SESSION_IMPORT_MAX_FILES accounts.
SESSION_EXPORT = env.bool("SESSION_EXPORT", default=True)
# Write the 2FA password and proxy credentials into the `<name>.json` beside each session in SESSIONS_DIR;
# off, the engine asks GET /api/admin/sessions/{name}/secrets for them.
SIDECAR_SECRETS_ON_DISK = env.bool("SIDECAR_SECRETS_ON_DISK", default=False)
IMAGE_MAX_BYTES = env.int("IMAGE_MAX_BYTES", default=10 * 1024 * 1024)
IMAGE_MAX_PIXELS = env.int("IMAGE_MAX_PIXELS", default=40_000_000)
# Longest side of a stored gallery image; larger uploads are scaled down to it.
IMAGE_MAX_SIDE = env.int("IMAGE_MAX_SIDE", default=2560)
# Image decodes one process runs at once (each may take tens of MiB), and the
# seconds an upload waits for one before it is answered 503 image_busy.
IMAGE_DECODE_SLOTS = env.int("IMAGE_DECODE_SLOTS", default=1)
IMAGE_DECODE_WAIT = env.float("IMAGE_DECODE_WAIT", default=10.0)
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=True)
# What every absolute URL begins with (e.g. https://example.com); empty: the request's own scheme and host.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")

# AUDIT
# ------------------------------------------------------------------------------
# `manage.py prune_audit` deletes audit events older than this many days.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)
# Seals each audit row into the hash chain (HMAC-SHA256, adbot_admin/audit_chain.py). Kept out of
# the database on purpose: whoever can write the database must not be able to recompute the chain.
AUDIT_CHAIN_KEY = env_raw("AUDIT_CHAIN_KEY")
# Old chain keys: rows they sealed still verify (by the `kid` on each row); none seals new rows.
AUDIT_CHAIN_KEY_FALLBACKS = env_keys("AUDIT_CHAIN_KEY_FALLBACKS")

# METRICS
# ------------------------------------------------------------------------------
# https://prometheus.github.io/client_python/multiprocess/
# GET /metrics answers a bearer token equal to METRICS_TOKEN, or, without a token, these
# addresses and networks (resolved as TRUSTED_PROXY_COUNT says). Never a user's login.
METRICS_TOKEN = env_raw("METRICS_TOKEN")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
# Where each process writes its counters for a scrape to sum (prometheus-client's multiprocess
# mode). gunicorn.conf.py makes a private folder when it is unset; empty elsewhere: one process.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")

# BENCHMARKS
# ------------------------------------------------------------------------------
# Mounts /bench/floor, the plain-Django view the benchmarks measure against.
BENCH_FLOOR = env.bool("BENCH_FLOOR", default=False)

# OPENAPI
# ------------------------------------------------------------------------------
# https://drf-spectacular.readthedocs.io/en/latest/settings.html
SPECTACULAR_SETTINGS = {
    "TITLE": "adbot-admin API",
    "DESCRIPTION": (
        "Admin backend of the ad-bot engine: session files, API pairs, CMS gallery.\n\n"
        "Log in with `POST /api/auth/token`, then send `Authorization: Bearer <access>` (the Authorize button). "
        'Every error has the body `{"detail", "code"}`, plus `errors` by field for validation (400); '
        "each operation shows its error bodies, and README.md lists every `code` with its status."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Swagger UI's files come from drf-spectacular-sidecar, served as this app's static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Never send the schema to swagger.io's online validator.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        # Every status each operation can return (401/403/404/413/415/429/503), one error body.
        "adbot_admin.api.schema.postprocess_error_responses",
        # `x-reauthentication-required` on each sensitive operation (step-up).
        "adbot_admin.api.schema.postprocess_sensitive_operations",
        "adbot_admin.api.schema.postprocess_empty_filters",
        "adbot_admin.api.schema.postprocess_json_bodies",
        "adbot_admin.api.schema.postprocess_closed_bodies",
        "adbot_admin.api.schema.postprocess_strip_trailing_slash",
    ],
}

# LOGGING
# ------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# `text` (one plain line a record) or `json` (one JSON object a line, with request id, client IP and user).
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
# Every handler formats through EscapingFormatter: a value sent by a client
# (username, path) cannot forge a line or an escape sequence (adbot_admin/logs.py).
# Python warnings go through it too.
LOGGING_CONFIG = "adbot_admin.logs.configure"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": (
            {"()": "adbot_admin.logs.JsonFormatter"}
            if LOG_FORMAT == "json"
            else {
                "()": "adbot_admin.logs.EscapingFormatter",
                "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            }
        )
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Named so that Django's own handlers (DEFAULT_LOGGING, formatted raw) are
        # dropped: its records reach the console above like everyone else's.
        "django": {"level": "INFO", "propagate": True},
        # Django logs every 4xx with the request path; our error bodies say enough.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING", "propagate": True},
        # SQL parameters can hold credentials (api_hash): never log statements.
        "django.db.backends": {"level": "INFO"},
    },
}
