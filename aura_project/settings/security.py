"""Trust boundaries: API keys, proxies, stored secrets, tenants' URLs, admin sign-ins and links."""

from __future__ import annotations

from .environment import env

# How long a rotated API key stays valid beside its successor.
AURA_KEY_ROTATION_GRACE_SECONDS: int = env.int("AURA_KEY_ROTATION_GRACE_SECONDS", default=24 * 3600)
# Keys marked auto-rotate are rotated by the beat task once they are this old.
AURA_KEY_AUTO_ROTATE_AFTER_DAYS: int = env.int("AURA_KEY_AUTO_ROTATE_AFTER_DAYS", default=90)
# Proxies (addresses or CIDR networks) whose X-Forwarded-For is believed when finding a client's
# address (core/client_address.py); empty: the connection's peer is the client.
AURA_TRUSTED_PROXIES: list[str] = env.list("AURA_TRUSTED_PROXIES", default=[])
# Bearer token a Prometheus scraper sends to /metrics; unset, only loopback may read it.
AURA_METRICS_TOKEN: str = env("AURA_METRICS_TOKEN", default="")
# Fernet key for secrets stored encrypted (webhook signing secrets); derived from SECRET_KEY
# when unset. Generate one with: python -c "from cryptography.fernet import Fernet;
# print(Fernet.generate_key().decode())"
AURA_ENCRYPTION_KEY: str = env("AURA_ENCRYPTION_KEY", default="")
# Hosts (names or IP addresses) that tenant webhook tools may reach even though they are
# private or loopback. Empty in production: webhooks go to the public internet only.
AURA_WEBHOOK_ALLOWED_HOSTS: list[str] = env.list("AURA_WEBHOOK_ALLOWED_HOSTS", default=[])
# The same for agents' provider routes (base_url) set by organizations, e.g. a self-hosted
# vLLM or Ollama on the private network.
AURA_PROVIDER_ALLOWED_HOSTS: list[str] = env.list("AURA_PROVIDER_ALLOWED_HOSTS", default=[])
# Plain http in URLs organizations choose (webhook tools, routes' base_url): off, so signed
# calls and tenants' keys never cross the internet in clear; dev and test settings turn it on.
# Hosts in the two lists above may use http regardless (the operator's own network).
AURA_TENANT_URLS_ALLOW_HTTP: bool = env.bool("AURA_TENANT_URLS_ALLOW_HTTP", default=False)

# --- The admin sites (core/admin_site.py) ------------------------------------------------
LOGIN_URL = "/admin/login/"
# Failed admin sign-ins allowed per account (schema and user name) and per client address in a
# moving window ("N/<n> minutes"); past either, sign-ins are refused (429) until it passes.
AURA_ADMIN_LOGIN_FAILURES_PER_ACCOUNT: str = env(
    "AURA_ADMIN_LOGIN_FAILURES_PER_ACCOUNT", default="5/15 minutes"
)
AURA_ADMIN_LOGIN_FAILURES_PER_ADDRESS: str = env(
    "AURA_ADMIN_LOGIN_FAILURES_PER_ADDRESS", default="20/15 minutes"
)
# How long an organization admin's set-password link (create_org_admin, the invite API) works.
PASSWORD_RESET_TIMEOUT: int = env.int("AURA_ADMIN_INVITE_VALID_SECONDS", default=24 * 3600)
# How links to an organization's domain are written: <scheme>://<domain>[:<port>]/...
AURA_PUBLIC_SCHEME: str = env("AURA_PUBLIC_SCHEME", default="https")
AURA_PUBLIC_PORT: str = env("AURA_PUBLIC_PORT", default="")
