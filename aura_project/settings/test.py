"""The test suite: real PostgreSQL and Redis, isolated names."""

from .base import *  # noqa: F403
from .base import CHANNEL_LAYERS, DATABASES, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A separate channel-layer prefix so a test run never talks to a running dev server.
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = env("CHANNEL_LAYER_PREFIX", default="aura-test")
CELERY_TASK_ALWAYS_EAGER = False
STORAGES = {
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Static files straight from static/ (as in development), no collectstatic needed.
SERVESTATIC_USE_FINDERS = True
# Separate names let two checkouts run their suites side by side on one server.
DATABASES["default"]["TEST"] = {"NAME": env("AURA_TEST_DATABASE", default="test_aura")}
# Tests never pick up (or leave) work on a dev server's queue, nor on another run's: the queue
# is named after the test database, which a worker started by a test shares.
CELERY_TASK_DEFAULT_QUEUE = "celery-" + DATABASES["default"]["TEST"]["NAME"]
# Likewise Redis keys: a session cap or rate window of one run never counts another's sessions
# (and a server a test starts with limits of its own may count under a prefix of its own).
AURA_REDIS_KEY_PREFIX = env(
    "AURA_TEST_REDIS_KEY_PREFIX", default="aura-" + DATABASES["default"]["TEST"]["NAME"]
)
# Worker threads close their connections after each call, so the test database can be dropped
# when the run ends (persistent connections in pool threads would hold it open).
DATABASES["default"]["CONN_MAX_AGE"] = 0
# As in development: tests' webhook endpoints and simulated providers speak plain http.
AURA_TENANT_URLS_ALLOW_HTTP = env.bool("AURA_TENANT_URLS_ALLOW_HTTP", default=True)
# Every test client connects from 127.0.0.1: per-address limits as high as a whole suite needs
# (the tests of those limits start a server with their own).
AURA_REALTIME_SESSIONS_PER_ADDRESS = env.int("AURA_REALTIME_SESSIONS_PER_ADDRESS", default=100000)
AURA_REALTIME_CONNECTS_PER_ADDRESS = env(
    "AURA_REALTIME_CONNECTS_PER_ADDRESS", default="1000000/minute"
)
AURA_CLIENT_SECRETS_RATE_PER_ADDRESS = env(
    "AURA_CLIENT_SECRETS_RATE_PER_ADDRESS", default="1000000/minute"
)
# No DNSMOS samples unless a test asks for them (they would sit on the test queue otherwise).
AURA_MOS_SAMPLE_RATE = env.float("AURA_MOS_SAMPLE_RATE", default=0.0)
# The client-event fuzz sends thousands of events as fast as the server answers: the event rate
# is tested by servers of its own (voice/tests/realtime/test_faults.py).
AURA_REALTIME_EVENTS_PER_SECOND = env.float("AURA_REALTIME_EVENTS_PER_SECOND", default=1e6)
AURA_REALTIME_EVENT_BURST = env.int("AURA_REALTIME_EVENT_BURST", default=1_000_000)
