"""Settings, read from the environment only (see README, "Configuration").

With no DATABASE_URL / DB_* the project runs on SQLite in ``var/``; with no REDIS_URL / REDIS_*
it uses the local-memory cache, the in-memory channel layer and a filesystem Celery broker.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from inventory_site.env import env_bool, env_float, env_int, env_list, env_rate, env_str, fail

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        fail("SECRET_KEY", "must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CORS_ORIGIN = env_list("CORS_ORIGIN", [])
# Origins whose pages may use /socket.io/ (inventory/socket_io); empty: the server's own origin only; "*": any.
SOCKET_IO_CORS_ORIGIN = env_list("SOCKET_IO_CORS_ORIGIN", [])
PORT = env_int("PORT", 8000, minimum=1, maximum=65535)

# --- domain settings -------------------------------------------------------------------------
RESERVATION_TTL = env_int("RESERVATION_TTL", 1800, minimum=1, maximum=86400)
LOW_STOCK_THRESHOLD = env_int("LOW_STOCK_THRESHOLD", 10, minimum=0)
FORECASTING_LOOKBACK_DAYS = env_int("FORECASTING_LOOKBACK_DAYS", 90, minimum=7, maximum=3650)
RESERVATION_SWEEP_SECONDS = env_int("RESERVATION_SWEEP_SECONDS", 30, minimum=1)
LOW_STOCK_SCAN_SECONDS = env_int("LOW_STOCK_SCAN_SECONDS", 300, minimum=1)
# Lots: `lot.expiring` goes out this many days before a lot expires; beat writes off expired lots this often.
LOT_EXPIRY_WARNING_DAYS = env_int("LOT_EXPIRY_WARNING_DAYS", 14, minimum=0, maximum=3650)
LOT_EXPIRY_SWEEP_SECONDS = env_int("LOT_EXPIRY_SWEEP_SECONDS", 60, minimum=1)
REORDER_LEAD_TIME_DAYS = env_int("REORDER_LEAD_TIME_DAYS", 7, minimum=0, maximum=365)
REORDER_REVIEW_DAYS = env_int("REORDER_REVIEW_DAYS", 7, minimum=0, maximum=365)
REORDER_SERVICE_LEVEL = env_float("REORDER_SERVICE_LEVEL", 0.95, minimum=0.5, maximum=0.9999)
METRICS_STOCK_LEVELS_MAX_SERIES = env_int("METRICS_STOCK_LEVELS_MAX_SERIES", 10000, minimum=0)
# /metrics reads the inventory families from the database at most once per this many seconds (0: every scrape).
METRICS_CACHE_SECONDS = env_int("METRICS_CACHE_SECONDS", 5, minimum=0, maximum=300)
STOCK_CACHE_TTL = env_int("STOCK_CACHE_TTL", 300, minimum=1)
EVENT_RETENTION_DAYS = env_int("EVENT_RETENTION_DAYS", 7, minimum=1, maximum=3650)
# Seconds a request waits on Redis at most (connect and each call); the relay refreshes what it skips.
# Threads per web process running requests (inventory_site.sync_http); each may hold a database connection.
WEB_THREADS = env_int("WEB_THREADS", 4, minimum=1, maximum=64)
# How long a process trusts what a token resolved to (user, active, roles); see inventory_site.authentication.
AUTH_CACHE_SECONDS = env_float("AUTH_CACHE_SECONDS", 1.0, minimum=0, maximum=60)
REDIS_TIMEOUT = env_float("REDIS_TIMEOUT", 0.1, minimum=0.01, maximum=30)
# WebSocket limits (inventory/ws_limits.py): a bigger message closes the socket with 1009; runstack gives
# uvicorn --ws-max-size a little above it, so a huge frame is refused before it is buffered.
WS_MAX_MESSAGE_BYTES = env_int("WS_MAX_MESSAGE_BYTES", 65536, minimum=1024, maximum=16 * 1024 * 1024)
# Most Redis connections of the channel layer per process; more commands at once wait for a free one.
CHANNEL_LAYER_MAX_CONNECTIONS = env_int("CHANNEL_LAYER_MAX_CONNECTIONS", 50, minimum=2, maximum=10000)
IDEMPOTENCY_KEY_TTL_HOURS = 24
BENCHMARK_ROUTES = env_bool("BENCHMARK_ROUTES", False)
# API throttling (inventory_site/throttles.py): per authenticated user, and per client IP without credentials.
API_THROTTLE_RATE = env_rate("API_THROTTLE_RATE", "6000/min")
API_THROTTLE_ANON_RATE = env_rate("API_THROTTLE_ANON_RATE", "60/min")
# When set, GET /metrics needs "Authorization: Bearer <METRICS_TOKEN>" (inventory/metrics.py).
METRICS_TOKEN = env_str("METRICS_TOKEN")
if METRICS_TOKEN and not (METRICS_TOKEN.isascii() and METRICS_TOKEN.isprintable() and " " not in METRICS_TOKEN):
    fail("METRICS_TOKEN", "must be printable ASCII without spaces (it is sent in an HTTP header)")
# Webhooks (inventory.webhooks): a 2xx within WEBHOOK_TIMEOUT seconds is a success; failures are retried
# after about WEBHOOK_RETRY_BASE seconds, doubling, up to WEBHOOK_MAX_ATTEMPTS attempts in all; an endpoint
# whose last WEBHOOK_DISABLE_AFTER deliveries all failed is deactivated (0: never).
WEBHOOK_TIMEOUT = env_float("WEBHOOK_TIMEOUT", 5.0, minimum=0.1, maximum=60.0)
WEBHOOK_RETRY_BASE = env_float("WEBHOOK_RETRY_BASE", 10.0, minimum=0.01, maximum=3600.0)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1, maximum=100)
WEBHOOK_DISABLE_AFTER = env_int("WEBHOOK_DISABLE_AFTER", 20, minimum=0, maximum=1_000_000)
# Off by default: otherwise anyone allowed to add a webhook could make the server call internal services.
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", False)
# Seconds a WebSocket ticket (POST /api/v1/ws-tickets) stays valid; not an env variable (tests override it).
WS_TICKET_TTL = 30

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_prometheus",
    "axes",
    "inventory",
    "reservations",
    "transfers",
    "forecasting",
]

MIDDLEWARE = [
    # First and last: django-prometheus times the whole stack (see inventory/metrics.py).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "inventory_site.middleware.ApiJsonErrorsMiddleware",  # outermost: sees every other middleware's errors
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "inventory_site.middleware.CommonMiddleware",  # Django's, minus the slash redirect under /api/
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "inventory_site.db_outage.DatabaseOutageMiddleware",  # innermost: its process_exception runs first
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as axes asks: it turns a login refused for a lockout into the lockout page before any other
    # middleware (the metrics included) sees the response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "inventory_site.urls"
WSGI_APPLICATION = "inventory_site.wsgi.application"
ASGI_APPLICATION = "inventory_site.asgi.application"

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


# --- database --------------------------------------------------------------------------------
def _database() -> dict:
    url = env_str("DATABASE_URL")
    if not url and any(os.environ.get(k) for k in ("DB_HOST", "DB_NAME", "DB_USER")):
        user = env_str("DB_USER", "postgres")
        password = env_str("DB_PASSWORD")
        auth = f"{user}:{password}" if password else user
        host = env_str("DB_HOST", "127.0.0.1")
        port = env_int("DB_PORT", 5432, minimum=1, maximum=65535)
        url = f"postgres://{auth}@{host}:{port}/{env_str('DB_NAME', 'inventory')}"
    if not url:
        sqlite_path = Path(env_str("SQLITE_PATH", str(VAR_DIR / "db.sqlite3")))
        sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(sqlite_path),
            # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue instead of
            # failing with "database is locked" half-way through a transaction.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    pool_size = env_int("DB_POOL_SIZE", 10, minimum=0, maximum=1000)
    try:
        config = dj_database_url.parse(
            url,
            # Under ASGI every request runs in a fresh thread, so a persistent per-thread connection
            # would leak (Django #33497): with the pool (the default) connections go back to it instead.
            conn_max_age=0 if pool_size else env_int("DB_CONN_MAX_AGE", 0, minimum=0),
            # With the pool, Django turns this into psycopg_pool's check=ConnectionPool.check_connection:
            # every connection is tested as it is handed out, so one killed by a PostgreSQL restart is
            # replaced instead of failing a request. Without it, a kept connection is tested per request.
            conn_health_checks=True,
        )
    except Exception as exc:  # dj_database_url raises several types for a bad URL
        fail("DATABASE_URL", f"is not a valid database URL ({exc})")
    if not config.get("ENGINE"):
        fail("DATABASE_URL", "has an unsupported scheme")
    if pool_size and config["ENGINE"].endswith("postgresql"):
        # timeout: how long a request waits for a free connection (or for a database that is down).
        # reconnect_timeout: how long the pool retries a failed connect, with backoff (1 s, 2 s, ...), before
        # it gives up and connects again on demand. The default (5 min) lets the delays grow past `timeout`
        # during an outage, so requests would keep failing for a while after the database is back.
        config.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": pool_size,
            "timeout": 3,
            "reconnect_timeout": 3,
        }
    return config


DATABASES = {"default": _database()}
# django-prometheus' subclasses of the same backends: identical behaviour, plus query/connection metrics.
_INSTRUMENTED_ENGINES = {
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
}
_engine = DATABASES["default"]["ENGINE"]
DATABASES["default"]["ENGINE"] = _INSTRUMENTED_ENGINES.get(_engine, _engine)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USING_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")


# --- redis: cache, channel layer, celery broker -----------------------------------------------
def _redis_url() -> str:
    url = env_str("REDIS_URL")
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            fail("REDIS_URL", f"must start with redis://, rediss:// or unix://, got {url!r}")
        return url
    if any(os.environ.get(k) for k in ("REDIS_HOST", "REDIS_PORT", "REDIS_DB")):
        host = env_str("REDIS_HOST", "127.0.0.1")
        port = env_int("REDIS_PORT", 6379, minimum=1, maximum=65535)
        db = env_int("REDIS_DB", 0, minimum=0, maximum=15)
        return f"redis://{host}:{port}/{db}"
    return ""


REDIS_URL = _redis_url()
KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "inv")

if REDIS_URL:
    from redis import exceptions as _redis_exceptions

    CACHES = {
        "default": {
            # django_redis.cache.RedisCache plus hit/miss metrics.
            "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": KEY_PREFIX,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # Fail fast when Redis is down or hung: reads fall back to the database, and the
                # relay brings the cache up to date once Redis answers again.
                "SOCKET_CONNECT_TIMEOUT": REDIS_TIMEOUT,
                "SOCKET_TIMEOUT": REDIS_TIMEOUT,
            },
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis with a connection pool that waits for a free connection (see the module).
            "BACKEND": "inventory.channel_layer.RedisChannelLayer",
            "CONFIG": {
                # A consumer's receive blocks for up to 5 s in Redis (BZPOPMIN): the socket must wait
                # longer than that, or an idle connection errors every 5 s.
                # retry_on_error: after a Redis restart the first call on a dead pooled connection
                # reconnects instead of failing (and closing a WebSocket that was subscribing).
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": 10,
                        "socket_connect_timeout": 2,
                        "retry_on_error": [_redis_exceptions.ConnectionError],
                        "max_connections": CHANNEL_LAYER_MAX_CONNECTIONS,
                        "pool_timeout": 10,
                    }
                ],
                "prefix": f"{KEY_PREFIX}:asgi",
                "capacity": 1000,
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
else:
    CACHES = {"default": {"BACKEND": "django_prometheus.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    _broker_dir = VAR_DIR / "celery-broker"
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
    }
    CELERY_RESULT_BACKEND = None

# The relay runs inside the web process where the cache and channel layer do (no Redis), unless told.
RELAY_IN_PROCESS = env_bool("RELAY_IN_PROCESS", not REDIS_URL)

CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The schedule itself lives in inventory_site/celery.py, next to the tasks it names.

SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- HTTPS behind a TLS-terminating proxy (README "Production (TLS) settings") -------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Load balancers and orchestrators probe /health over plain HTTP on the server's own port; a
# redirect would fail the probe. It shows nothing secret.
SECURE_REDIRECT_EXEMPT = [r"^health$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    # Only behind a proxy that sets this header on every request (and drops the client's own).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SILENCED_SYSTEM_CHECKS = [
    # includeSubDomains and preload reach beyond this service: the service usually runs on a subdomain
    # of a domain whose other hosts it does not control, and preload is a commitment for the whole
    # domain. They are the domain owner's decision, opt-in through SECURE_HSTS_INCLUDE_SUBDOMAINS and
    # SECURE_HSTS_PRELOAD, so check --deploy does not ask for them.
    "security.W005",
    "security.W021",
]

# --- auth, i18n, static ----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"

# Login lockout (django-axes, README "Admin login lockout"): LOGIN_FAILURE_LIMIT failed logins for one
# username from one address lock that pair out for LOGIN_COOLOFF_MINUTES (a fraction is fine) after
# the last failure, the right password included. Attempts live in the database (axes' tables): every
# server process sees the same counts, increments are row-locked, and a Redis outage or a cache flush
# cannot lift a lockout (the cache fails open here and the embedded default's is per process).
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=1000)
LOGIN_COOLOFF_MINUTES = env_float("LOGIN_COOLOFF_MINUTES", 15.0, minimum=0.01, maximum=43200.0)
AUTHENTICATION_BACKENDS = [
    "inventory_site.login_lockout.LockoutBackend",  # first: refuses a locked-out login before any password check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
# By the pair: other users from that address, and that user from elsewhere, can still log in.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A retry while locked out does not restart the cool-off, so the page can say when logging in works again.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "inventory_site.login_lockout.client_ip"  # REMOTE_ADDR only, never X-Forwarded-For
AXES_LOCKOUT_CALLABLE = "inventory_site.login_lockout.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every process start without it
WHITENOISE_USE_FINDERS = True

# --- CORS --------------------------------------------------------------------------------------
if CORS_ORIGIN == ["*"]:
    CORS_ALLOW_ALL_ORIGINS = True
else:
    CORS_ALLOWED_ORIGINS = CORS_ORIGIN
CSRF_TRUSTED_ORIGINS = [o for o in CORS_ORIGIN if o != "*"]

# --- logging -----------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # ?token= / ?ticket= values never reach a log line (inventory_site.log_redaction; asgi.py adds uvicorn's).
    "filters": {"redact_secrets": {"()": "inventory_site.log_redaction.RedactSecretsFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secrets"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.request": {"filters": ["redact_secrets"]},
        "django.channels.server": {"filters": ["redact_secrets"]},
    },
}

# --- REST API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header turns "no credentials" into 401, not 403.
        "inventory_site.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["inventory_site.permissions.HasStockRole"],
    "DEFAULT_PAGINATION_CLASS": "inventory_site.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's parser plus: too-deep bodies, NUL and lone surrogates are 400s, not 500s (see the module).
    "DEFAULT_PARSER_CLASSES": ["inventory_site.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "inventory_site.api_errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "COERCE_DECIMAL_TO_STRING": True,
    # Sliding-window counters in the shared cache, atomic across processes (see the module).
    "DEFAULT_THROTTLE_CLASSES": [
        "inventory_site.throttles.UserRateThrottle",
        "inventory_site.throttles.AnonRateThrottle",
    ],
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    "TITLE": "Inventory service API",
    "DESCRIPTION": "Stock, reservations and transfers across warehouses. Errors are JSON with a stable `code`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI from drf-spectacular-sidecar's static files, not a CDN: the docs render offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name for the stock states wherever they appear (adjust's state, move-state's from/to, the ledger).
    "ENUM_NAME_OVERRIDES": {"StockStateEnum": "inventory.models.StockState"},
}
