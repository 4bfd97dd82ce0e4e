"""Structured JSON logs that carry tenant, session and turn ids, and never secrets.

The ids live in context variables that the realtime transport and Celery tasks set; a filter
copies them onto every record, so a log line can be traced to its organization and session
without any call site passing them along.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from contextvars import ContextVar

from voice.engine.log_context import current_turn

tenant_var: ContextVar[str | None] = ContextVar("aura_tenant", default=None)
session_var: ContextVar[str | None] = ContextVar("aura_session", default=None)

# Keys of every kind AURA issues or holds (sk_/pk_/ek_ and providers' sk-...), bearer tokens.
_SECRET = re.compile(r"\b(?:sk|pk|ek)_[A-Za-z0-9_-]{6,}|\bsk-[A-Za-z0-9_-]{8,}|(?i:bearer)\s+\S+")


def redact(text: str) -> str:
    return _SECRET.sub("[redacted]", text)


class ContextFilter(logging.Filter):
    """Adds tenant/session/turn ids and scrubs anything that looks like a key."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.tenant = tenant_var.get()
        record.session = session_var.get()
        record.turn = current_turn.get()
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, Mapping):
            # `logger.log(level, "%(name)s", mapping)`: Celery logs task failures this way.
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        elif record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True
