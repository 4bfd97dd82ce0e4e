"""Local development: `make run`."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
# Webhooks and routes may use plain http here (a local endpoint, a tunnel); never in prod.
AURA_TENANT_URLS_ALLOW_HTTP = env.bool("AURA_TENANT_URLS_ALLOW_HTTP", default=True)
