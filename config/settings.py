"""The one settings module. Everything that differs between machines comes from the environment.

Safe for production by default: DEBUG is off, a SECRET_KEY is required, and SQLite is only the
fallback when no DATABASE_URL is given.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

# django-environ reads and casts the variables (DATABASE_URL included); nothing reads a .env file.
env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)


def _secret_key() -> str:
    if key := env.str("SECRET_KEY", default=""):
        return key
    # `make run` generates this file for local runs; it is git-ignored.
    local_file = BASE_DIR / ".secret_key"
    if local_file.exists():
        return local_file.read_text().strip()
    if DEBUG:
        return "insecure-debug-only-secret-key"
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")


SECRET_KEY = _secret_key()


def _env_names(name: str, default: str = "") -> list[str]:
    """A comma-separated list, with blanks around and between the commas ignored."""
    return [item.strip() for item in env.list(name, default=default.split(",")) if item.strip()]


# Django's test setup adds `testserver` for the test client; production does not accept it.
ALLOWED_HOSTS = _env_names("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = _env_names("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",  # admin login brute-force protection (see "Login protection" below)
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Ours, lowest layer first: each app imports only from the ones above it.
    "common",
    "projects",
    "auth_keys",
    "api",
    "activity_log",
    "change_events",
    "signalsource",
]

MIDDLEWARE = [
    "api.middleware.RequestLogMiddleware",
    # Before anything builds a URL from the Host header (the HTTPS redirect, pagination links).
    "api.middleware.AllowedHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Its checks run in `process_view` (so its answers pass every middleware here), before the CSRF
    # check reads a form; an API view's body is read only after its key has passed.
    "api.middleware.RequestBodyLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Answers a locked-out admin login with the lockout page (django-axes).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
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
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Safe under a multi-threaded or multi-process server: WAL lets readers run beside the
    # writer, IMMEDIATE transactions take the write lock up front instead of failing midway.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a health check that asks the socket, not the server (config/postgresql).
    DATABASES["default"]["ENGINE"] = "config.postgresql"
    # Fail fast when the database is unreachable, so clients get a 503 rather than a hang.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DB_CONNECT_TIMEOUT", default=3)
    # Prepared statements: PostgreSQL parses and plans each of the few statements a worker sends once
    # per connection, not once per request (psycopg prepares a statement on its third use; it needs
    # server-side binding for that). It shares the service's CPU: +17-21 % requests/s on creates,
    # deletes and reads (bench/compare.py). Off for a pooler that cannot keep them (PgBouncer
    # before 1.21, or without max_prepared_statements, in transaction mode).
    if env.bool("DB_PREPARED_STATEMENTS", default=True):
        DATABASES["default"]["OPTIONS"].update(server_side_binding=True, prepare_threshold=2)

if test_name := env.str("TEST_DATABASE_NAME", default=""):
    # Lets several test runs share one PostgreSQL server without sharing a test database.
    DATABASES["default"]["TEST"] = {"NAME": test_name}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Change events (change_events: the feed, and the relay to NATS JetStream) ----------------
# Events are pruned after this many days (`prune_change_events`); unsent ones stay while a relay is set.
EVENTS_RETENTION_DAYS = env.int("EVENTS_RETENTION_DAYS", default=7)
# The relay (`relay_events`) publishes to this NATS server; unset, there is no relay (the feed only).
EVENTS_NATS_URL = env.str("EVENTS_NATS_URL", default="")
EVENTS_NATS_STREAM = env.str("EVENTS_NATS_STREAM", default="SIGNAL_SOURCE_CONFIGS")
EVENTS_NATS_SUBJECT_PREFIX = env.str("EVENTS_NATS_SUBJECT_PREFIX", default="signal_source_configs")

# --- Cache (rate limits are counted here, shared by every server process) --------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Redis answers a rate limit's script in well under a millisecond; a Redis that does not answer in
# tens of them is treated as down (requests are let through uncounted) rather than holding every
# request: seconds, passed to redis-py. After a failure the breaker stops asking it for a while.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.05)
REDIS_CONNECT_TIMEOUT = env.float("REDIS_CONNECT_TIMEOUT", default=0.05)
REDIS_BREAKER_SECONDS = env.float("REDIS_BREAKER_SECONDS", default=10)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_timeout": REDIS_SOCKET_TIMEOUT, "socket_connect_timeout": REDIS_CONNECT_TIMEOUT},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache"}}

# --- Login protection (django-axes) for the admin ---------------------------------------------
# Failed logins are counted in the database, which every instance shares, per username and client
# address together (the same address the rate limits use, CLIENT_IP_HEADER included). At the limit
# both the wrong and the right password are refused until the cool-off ends or an operator unlocks
# (`python manage.py axes_reset_username <name>` / `axes_reset_ip <address>`; README).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked login before any password is hashed
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
# Username and address together: one address locked alone would lock out every admin behind a proxy
# without CLIENT_IP_HEADER (they all share one), and a username alone would let anyone lock an admin out.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "api.throttling.client_address"
AXES_LOCKOUT_TEMPLATE = "api/admin_lockout.html"
AXES_VERBOSE = False

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

# Bodies larger than this are refused (413) before they are read: api/body.py.
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

# A list page whose rows' JSON passes this many bytes is cut there (its `next` goes on from the cut;
# a page always holds one row): a page of 1000 large activity records was 94 MB (issue 25, row 6).
PAGE_MAX_BYTES = env.int("PAGE_MAX_BYTES", default=1024 * 1024)

# Rate limits (api/throttling.py), exact sliding windows counted in Redis when the cache above is
# Redis, else in a table of our own: DRF rates such as "480/minute", or "off". Per key: PostHog's
# personal API key limits are the defaults. Requests without a valid key: per client address.
RATE_LIMITS_ENABLED = env.bool("RATE_LIMITS_ENABLED", default=True)
RATE_LIMIT_BURST = env.str("RATE_LIMIT_BURST", default="480/minute")
RATE_LIMIT_SUSTAINED = env.str("RATE_LIMIT_SUSTAINED", default="4800/hour")
RATE_LIMIT_ANONYMOUS = env.str("RATE_LIMIT_ANONYMOUS", default="120/minute")
# The API description (`/api/schema/`), which needs no key: per client address. Built once per worker,
# but a client reading it more than this is not reading it.
RATE_LIMIT_SCHEMA = env.str("RATE_LIMIT_SCHEMA", default="30/minute")
# The header a trusted proxy in front writes the client's address into (e.g. X-Forwarded-For; its
# last address is used). Empty: the connection's address. Set it only behind such a proxy: anyone
# can send the header.
CLIENT_IP_HEADER = env.str("CLIENT_IP_HEADER", default="")

# Processing runs (signalsource/runs.py, signalsource/health.py). A running run with no heartbeat for
# RUN_STALE_AFTER counts as failed; an enabled source whose runs succeed but emit no signal for
# DORMANT_AFTER is dormant; runs older than RUNS_RETENTION_DAYS are pruned (`prune_runs`), the latest
# run of each config always kept.
RUN_STALE_AFTER = timedelta(minutes=env.int("RUN_STALE_AFTER_MINUTES", default=15))
DORMANT_AFTER = timedelta(days=env.int("DORMANT_AFTER_DAYS", default=7))
RUNS_RETENTION_DAYS = env.int("RUNS_RETENTION_DAYS", default=30)

# --- REST framework --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["auth_keys.authentication.PersonalAPIKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["api.renderers.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.ORJSONParser",
        "api.parsers.StrictFormParser",
        "api.parsers.StrictMultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.LimitOffsetPagination",
    "DEFAULT_FILTER_BACKENDS": ["api.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Every limit of a key (burst and sustained), or of a client address, in one throttle: one round
    # trip per request.
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.RateLimitThrottle"],
    "PAGE_SIZE": 100,
}

EXCEPTIONS_HOG = {
    "EXCEPTION_REPORTING": "api.exceptions.report_exception",
    # Our handler answers every error as JSON, in DEBUG too.
    "ENABLE_IN_DEBUG": True,
}

# PostHog also reads a `personal_api_key` body field or query parameter. Keys in URLs end up in
# logs, so this is off unless turned on.
PERSONAL_API_KEY_IN_REQUEST_ALLOWED = env.bool("PERSONAL_API_KEY_IN_REQUEST_ALLOWED", default=False)

SPECTACULAR_SETTINGS = {
    "TITLE": "Signal source configs API",
    "DESCRIPTION": "PostHog-compatible signal source configs, authenticated by personal API keys "
    "(`Authorization: Bearer phx_...`).\n\n"
    "Two routes serve the same configs with the same rules: `signal_source_configs/`, the endpoint as "
    "PostHog first published it, and `signals/source_configs/`, as PostHog serves it today (with PUT; "
    "a retired `source_type` refused in writes; a new config gets its source's default keys). Every "
    "change is recorded in the project's activity log (`activity_log/`, and each config's "
    "`.../{id}/activity/` on either route).\n\n"
    "Bodies are described as JSON; the server also reads `application/x-www-form-urlencoded` and "
    "`multipart/form-data` bodies with the same fields (`config` as a JSON-encoded string), as PostHog's "
    "does. A PATCH body may repeat a config's own `source_product` and `source_type` (any other value is "
    "a 400): they are fixed once the config exists, so its description leaves them out (a PUT sends them).\n\n"
    "Every error is JSON in PostHog's flat format `{type, code, detail, attr}`; 5xx errors add "
    "`request_id`. An error about a config's content has `attr` `config` and a `detail` that names "
    "the key at fault. A method a route does not take is a 405 with an `Allow` header: "
    '`{"type": "invalid_request", "code": "method_not_allowed", "detail": "Method \\"PUT\\" not allowed.", '
    '"attr": null}`.',
    "VERSION": "1.0.0",
    # 3.1: its null type is what every generator reads as "or null" with default options (3.0's
    # `nullable` on a required field is not null to datamodel-code-generator without --strict-nullable).
    "OAS_VERSION": "3.1.0",
    # Relative: the server that serves this description (Swagger UI's "Try it out" calls it). A
    # client outside a browser needs the origin as its base URL, as the description says.
    "SERVERS": [
        {
            "url": "/",
            "description": "This service, local or production: the origin that serves this description "
            "(`http://127.0.0.1:8000` under `make run`). A client outside a browser resolves nothing against "
            "it: give it that origin as its base URL.",
            "x-internal": False,
        }
    ],
    # No license is chosen for this service yet (the repository has no LICENSE file).
    "LICENSE": {"name": "Proprietary"},
    # Separate request components (`SignalSourceConfigRequest`, ...): read-only fields are not
    # asked of clients, and response fields can all be required.
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "signalsource.schema.add_source_config_components",
        "api.schema.nullable_as_openapi_31",
        "api.schema.limits_and_retry_after",
    ],
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
        "ErrorTypeEnum": "api.schema.ERROR_TYPES",
        "SignalSourceRunStateEnum": "signalsource.models.ProcessingStatus",
        "SignalSourceRunStartStateEnum": "signalsource.runs.START_STATES",
        "SignalSourceHealthStateEnum": "signalsource.health.STATE_NAMES",
    },
}

# --- Security headers (production defaults; HTTPS ones turn on with SECURE_SSL) ---------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if env.bool("SECURE_SSL", default=False):
    SECURE_SSL_REDIRECT = True
    # A load balancer probes health over plain HTTP and must see the answer, not a redirect.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Logging: one JSON line per request on stdout ----------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "api.request_id.RequestIdLogFilter"}},
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
