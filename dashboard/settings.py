"""Django settings for Switchboard.

Every value that differs between machines comes from the environment, here
and nowhere else; `.env.example` documents each variable. Other modules read
`django.conf.settings` at call time, never at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    """Return a variable, or the content of the file named by NAME_FILE."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    """Strict boolean: only `True`/`False` (any case) are accepted."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise ImproperlyConfigured(f"{name} must be True or False, not {raw!r}")


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        return float(raw) if raw else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
# /metrics for a scraper: `Authorization: Bearer <this>` (unset: staff only).
METRICS_TOKEN = env_str("METRICS_TOKEN")
# No key: an ephemeral random one, so nothing ever runs on a fixed default.
# Sessions then die with the process; `make run` keeps a generated key in
# var/secret_key (DJANGO_SECRET_KEY_FILE) so logins survive restarts.
SECRET_KEY_IS_EPHEMERAL = not SECRET_KEY
SECRET_KEY = SECRET_KEY or os.urandom(32).hex()

ALLOWED_HOSTS = [
    h.strip()
    for h in env_str("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in env_str("DJANGO_CSRF_TRUSTED_ORIGINS").split(",") if o.strip()
]

# Production behind HTTPS (docs/operations.md "Production settings"):
# DJANGO_SECURE=true makes the cookies Secure, sends HSTS and redirects
# plain HTTP. Off by default: `make run` serves http://127.0.0.1 and a
# Secure cookie would never come back over plain HTTP.
SECURE = env_bool("DJANGO_SECURE", False)
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = SECURE and env_bool("DJANGO_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(env_float("DJANGO_HSTS_SECONDS", 31_536_000)) if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
# Behind a proxy that terminates TLS: the header it sets, e.g.
# DJANGO_SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto (only if the proxy
# always sets or strips it: a client could send it otherwise).
_proxy_header = env_str("DJANGO_SECURE_PROXY_SSL_HEADER")
if _proxy_header:
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + _proxy_header.upper().replace("-", "_"),
        "https",
    )
# Every page's Content-Security-Policy (dashboard.security): scripts,
# styles and sockets from this site only; no inline script anywhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

INSTALLED_APPS = [
    "daphne",  # first: its runserver serves ASGI (daphne/checks.py)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "telephony",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "dashboard.security.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
ASGI_APPLICATION = "dashboard.asgi.application"

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

# Local state (the SQLite file, the generated secret key) lives in var/,
# which a fresh clone lacks: make it, so `manage.py migrate` just works.
VAR_DIR = BASE_DIR / "var"
if not os.environ.get("DATABASE_URL"):
    VAR_DIR.mkdir(exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        # Keep connections: a login burst (every console after a restart)
        # otherwise opens one database connection per query, and a
        # thousand WebSocket handshakes queue behind them.
        conn_max_age=int(env_float("DATABASE_CONN_MAX_AGE", 60)),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (logins, the worker's history batches) share one
    # file. WAL lets readers run beside the writer; a busy timeout makes a
    # writer wait for the lock instead of failing; IMMEDIATE transactions
    # take the write lock up front, because a deferred one that upgrades
    # from reading to writing fails at once ("database is locked") whatever
    # the timeout, as a history batch did during a login burst.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20,
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    )

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 times socket reads out after 5 s by default,
                # as long as channels_redis's blocking wait for a message:
                # a quiet channel then failed every few seconds.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                # A full channel drops messages; every client detects a gap
                # by `seq` and resyncs, so a bounded queue is safe.
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }
else:
    # One process (`manage.py serve`) or tests only: the in-memory layer
    # cannot cross processes.
    CHANNEL_LAYERS = {"default": {"BACKEND": "dashboard.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The site's time zone: "today" for the queues' figures starts at its midnight.
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console"
LOGOUT_REDIRECT_URL = "login"
# A login lasts a shift (hours), not Django's two weeks: an open console
# closes when its session expires (dashboard.access).
SESSION_COOKIE_AGE = int(env_float("SWITCHBOARD_SESSION_HOURS", 12) * 3600)
# Days of call history and call journal (floor replay) kept; older is
# deleted by `manage.py purge_history` (cron, docs/operations.md).
RETENTION_DAYS = env_float("SWITCHBOARD_RETENTION_DAYS", 30)
# Consoles one user may have open on one dashboard process (0: no cap).
CONSOLES_PER_USER = int(env_float("SWITCHBOARD_CONSOLES_PER_USER", 10))
# External transfer destinations (E.164 numbers; a trailing * allows a
# prefix, e.g. "+1415*"), comma-separated. Empty: transfers only to
# extensions, voicemail and park orbits (docs/security.md "Transfers").
TRANSFER_ALLOWED_NUMBERS = [
    n.strip()
    for n in env_str("SWITCHBOARD_TRANSFER_ALLOWED_NUMBERS").split(",")
    if n.strip()
]

# RingCentral. Empty RINGCENTRAL_SERVER_URL means "use the embedded
# simulator" in `manage.py serve`; the worker alone requires a URL.
RINGCENTRAL_SERVER_URL = env_str("RINGCENTRAL_SERVER_URL")
RINGCENTRAL_CLIENT_ID = env_str("RINGCENTRAL_CLIENT_ID")
RINGCENTRAL_CLIENT_SECRET = env_str("RINGCENTRAL_CLIENT_SECRET")
RINGCENTRAL_JWT = env_str("RINGCENTRAL_JWT")
# The SIP device (Softphone/HardPhone, online) that "Listen" rings: a
# supervisor's desk phone. Empty: Listen is refused with a clear message
# (with the embedded RingCentral, its supervisor device is used).
RINGCENTRAL_SUPERVISOR_DEVICE_ID = env_str("RINGCENTRAL_SUPERVISOR_DEVICE_ID")
# Speed factor of the embedded simulator's generated calls (demo only).
SIMULATOR_SPEED = env_float("SIMULATOR_SPEED", 1.0)
# Seconds a console waits for the worker's reply to a command: longer than
# the worker's own HTTP timeout (10 s) so a slow RingCentral is reported by
# the worker, with its real outcome, rather than guessed at here.
COMMAND_REPLY_TIMEOUT = env_float("SWITCHBOARD_COMMAND_TIMEOUT", 20.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Customers' numbers never reach a log whole: every line's runs of 7+
    # digits keep their last four (telephony.redact; docs/security.md).
    "filters": {"mask_numbers": {"()": "telephony.redact.MaskNumbersFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["mask_numbers"],
        }
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "telephony": {"level": env_str("SWITCHBOARD_LOG_LEVEL", "INFO")},
        "dashboard": {"level": env_str("SWITCHBOARD_LOG_LEVEL", "INFO")},
    },
}

# The live feed (dashboard/feed.py, docs/architecture.md "Live feed"):
# one delta frame per window at most; a console with more unsent bytes than
# the high-water mark gets no deltas, and is cut loose after the stall time;
# a console's snapshot requests are answered at most once per interval; the
# feed lingers after its last console leaves (a page reload keeps the floor);
# each console socket's kernel send buffer is capped (Linux would let each
# grow to 4 MB, unaccounted).
FEED_WINDOW_SECONDS = env_float("SWITCHBOARD_FEED_WINDOW", 0.1)
FEED_HIGH_WATER = int(env_float("SWITCHBOARD_FEED_HIGH_WATER", 1_048_576))
FEED_STALL_SECONDS = env_float("SWITCHBOARD_FEED_STALL_SECONDS", 30.0)
FEED_RESYNC_INTERVAL = env_float("SWITCHBOARD_FEED_RESYNC_INTERVAL", 2.0)
FEED_LINGER_SECONDS = env_float("SWITCHBOARD_FEED_LINGER_SECONDS", 30.0)
FEED_SOCKET_SNDBUF = int(env_float("SWITCHBOARD_FEED_SOCKET_SNDBUF", 262_144))

# --- Login throttling (dashboard/login_throttle.py; docs/operations.md
# "Login throttling"). Failed logins are counted per username and per
# client address over the cool-off; at a limit that username or address is
# refused, right password included, for the cool-off, before any password
# is hashed. An address's limit is higher: a contact centre's supervisors
# often share one NAT address. 0 turns a limit off.
LOGIN_FAILURES_PER_USERNAME = int(
    env_float("SWITCHBOARD_LOGIN_FAILURES_PER_USERNAME", 10)
)
LOGIN_FAILURES_PER_ADDRESS = int(
    env_float("SWITCHBOARD_LOGIN_FAILURES_PER_ADDRESS", 30)
)
LOGIN_LOCKOUT_MINUTES = env_float("SWITCHBOARD_LOGIN_LOCKOUT_MINUTES", 15.0)
# The client address is REMOTE_ADDR. Behind a reverse proxy: the header it
# sets to the client's address (e.g. X-Real-IP, or X-Forwarded-For whose
# last entry is used); only if the proxy always sets it, a client could
# send it otherwise.
LOGIN_CLIENT_ADDRESS_HEADER = env_str("SWITCHBOARD_CLIENT_ADDRESS_HEADER")
AUTHENTICATION_BACKENDS = [
    "dashboard.login_throttle.LoginThrottleBackend",  # first: before any hash
    "django.contrib.auth.backends.ModelBackend",
]
MIDDLEWARE = [*MIDDLEWARE, "dashboard.login_throttle.LoginThrottleMiddleware"]
# The counters live in the cache: this process's memory, or Redis, shared
# by every dashboard process, when there is one.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "switchboard",
        }
    }
# --- end of login throttling
