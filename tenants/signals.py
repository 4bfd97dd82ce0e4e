"""What the tenants app announces, so that the apps above it act without being imported here.

`tenants` is the lowest app: it may import none of `voice`, `conversations`, `monitoring`.
Those apps connect receivers to these signals in their `AppConfig.ready()`.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

# Sent inside the transaction that builds a new organization's schema, with the connection in
# that schema, keyword `organization`. Receivers seed its first rows (voice: the first agent);
# an exception rolls the whole provisioning back, so sent with `send`, not `send_robust`.
organization_schema_created = Signal()

# Sent once a change that ends an organization's service has committed (suspended, failed,
# provisioning again), keywords `organization_id`, `status`.
organization_deactivated = Signal()

# Sent once a new organization is registered (or its failed provisioning retried) has
# committed, keyword `organization_id`: tenants.tasks queues the provisioning.
organization_registered = Signal()

# Sent once a key stopped working has committed (revoked, expired, replaced without grace),
# keywords `key_id`, `reason`.
api_key_disabled = Signal()


def send_on_commit(signal: Signal, **kwargs: object) -> None:
    """Send `signal` to every receiver once the current transaction commits.

    A failing receiver is logged and does not stop the others, nor fail the committed change.
    """
    transaction.on_commit(lambda: _send_logged(signal, kwargs))


def _send_logged(signal: Signal, kwargs: dict[str, object]) -> None:
    for receiver, result in signal.send_robust(sender=None, **kwargs):
        if isinstance(result, Exception):
            logger.error(
                "receiver %r of a tenants signal failed",
                receiver,
                exc_info=(type(result), result, result.__traceback__),
            )
