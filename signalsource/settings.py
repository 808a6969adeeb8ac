"""The one settings module. Everything that differs between machines comes from the environment.

Safe for production by default: DEBUG is off, a SECRET_KEY is required, and SQLite is only the
fallback when no DATABASE_URL is given.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")


def _secret_key() -> str:
    if key := os.environ.get("SECRET_KEY"):
        return key
    # `make run` generates this file for local runs; it is git-ignored.
    local_file = BASE_DIR / ".secret_key"
    if local_file.exists():
        return local_file.read_text().strip()
    if DEBUG:
        return "insecure-debug-only-secret-key"
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "projects",
    "auth_keys",
    "signalsource",
]

MIDDLEWARE = [
    "signalsource.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that its 413 still passes every header middleware above; it runs before any view
    # (or CSRF check) reads the body.
    "signalsource.middleware.RequestBodyLimitMiddleware",
]

ROOT_URLCONF = "signalsource.urls"
WSGI_APPLICATION = "signalsource.wsgi.application"
APPEND_SLASH = False  # the API accepts both spellings itself; no redirects

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

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Safe under a multi-threaded or multi-process server: WAL lets readers run beside the
    # writer, IMMEDIATE transactions take the write lock up front instead of failing midway.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Fail fast when the database is unreachable, so clients get a 503 rather than a hang.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("DB_CONNECT_TIMEOUT", 3)

if test_name := os.environ.get("TEST_DATABASE_NAME"):
    # Lets several test runs share one PostgreSQL server without sharing a test database.
    DATABASES["default"]["TEST"] = {"NAME": test_name}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits are counted here, shared by every server process) --------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache"}}

# --- Passwords, i18n, static -----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Bodies larger than this are refused (413) before they are read: RequestBodyLimitMiddleware.
MAX_REQUEST_BODY_BYTES = env_int("MAX_REQUEST_BODY_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

# Per-key rate limits (signalsource/throttling.py), counted in Redis when the cache above is Redis,
# else in a table of our own: DRF rates such as "480/minute" (PostHog's personal API key limits are
# the defaults), or "off".
RATE_LIMITS_ENABLED = env_bool("RATE_LIMITS_ENABLED", True)
RATE_LIMIT_BURST = os.environ.get("RATE_LIMIT_BURST", "480/minute")
RATE_LIMIT_SUSTAINED = os.environ.get("RATE_LIMIT_SUSTAINED", "4800/hour")

# --- REST framework --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["auth_keys.authentication.PersonalAPIKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["signalsource.renderers.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "signalsource.parsers.ORJSONParser",
        "signalsource.parsers.StrictFormParser",
        "signalsource.parsers.StrictMultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "signalsource.pagination.LimitOffsetPagination",
    "DEFAULT_FILTER_BACKENDS": ["signalsource.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "signalsource.schema.AutoSchema",
    "EXCEPTION_HANDLER": "signalsource.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Both per-key limits (burst and sustained) in one throttle: one round trip per request.
    "DEFAULT_THROTTLE_CLASSES": ["signalsource.throttling.PersonalAPIKeyRateThrottle"],
    "PAGE_SIZE": 100,
}

EXCEPTIONS_HOG = {
    "EXCEPTION_REPORTING": "signalsource.exceptions.report_exception",
    # Our handler answers every error as JSON, in DEBUG too.
    "ENABLE_IN_DEBUG": True,
}

# PostHog also reads a `personal_api_key` body field or query parameter. Keys in URLs end up in
# logs, so this is off unless turned on.
PERSONAL_API_KEY_IN_REQUEST_ALLOWED = env_bool("PERSONAL_API_KEY_IN_REQUEST_ALLOWED")

SPECTACULAR_SETTINGS = {
    "TITLE": "Signal source configs API",
    "DESCRIPTION": "PostHog-compatible signal source configs, authenticated by personal API keys.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},  # no calls to swagger.io
    # The description and its pages need no API key (a bad key must not hide the docs).
    "SERVE_AUTHENTICATION": [],
    # PostHog's enum component names, from the catalog's choices.
    "ENUM_NAME_OVERRIDES": {
        "SourceProductEnum": "signalsource.catalog.PRODUCT_CHOICES",
        "SignalSourceConfigSourceTypeEnum": "signalsource.catalog.TYPE_CHOICES",
        "ErrorTypeEnum": "signalsource.schema.ERROR_TYPES",
    },
}

# --- Security headers (production defaults; HTTPS ones turn on with SECURE_SSL) ---------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if env_bool("SECURE_SSL"):
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Logging: one JSON line per request on stdout ----------------------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "signalsource.request_id.RequestIdLogFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Our request log replaces Django's own request/server lines.
        "django.request": {"handlers": [], "level": "CRITICAL", "propagate": False},
        "django.server": {"handlers": [], "level": "CRITICAL", "propagate": False},
    },
}
