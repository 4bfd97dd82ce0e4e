"""Structured JSON logs that carry tenant, session and turn ids, and never secrets.

The ids live in context variables that the realtime transport and Celery tasks set; a filter
copies them onto every record, so a log line can be traced to its organization and session
without any call site passing them along. The same filter scrubs whatever looks like a key
from every part of the record a formatter writes out: the message with its arguments, the
traceback, the stack and `extra` fields. Celery workers log through the same configuration
(`configure_celery_logging`).
"""

from __future__ import annotations

import logging
import logging.config
import re
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from voice.engine.observability.log_context import current_turn

tenant_var: ContextVar[str | None] = ContextVar("aura_tenant", default=None)
session_var: ContextVar[str | None] = ContextVar("aura_session", default=None)

# Keys of every kind AURA issues or holds: its own sk_/pk_/ek_, providers' sk-... (OpenAI)
# and xai-... (xAI), and bearer tokens (stopping at quotes, so JSON around one stays valid).
_SECRET = re.compile(
    r"\b(?:sk|pk|ek)_[A-Za-z0-9_-]{6,}"
    r"|\bsk-[A-Za-z0-9_-]{8,}"
    r"|\bxai-[A-Za-z0-9_-]{8,}"
    r"|(?i:bearer)\s+[^\s\"',]+"
)
REDACTED = "[redacted]"
# Attributes every LogRecord has; anything else on a record came in through `extra`.
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "tenant",
    "session",
    "turn",
}


def redact(text: str) -> str:
    return _SECRET.sub(REDACTED, text)


def redact_value(value: Any) -> Any:
    """`value` with secrets scrubbed from the strings in it, containers walked."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(redact_value(item) for item in value)
    return value


class ContextFilter(logging.Filter):
    """Adds tenant/session/turn ids and scrubs anything that looks like a key."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.tenant = tenant_var.get()
        record.session = session_var.get()
        record.turn = current_turn.get()
        _redact_message(record)
        _redact_traceback(record)
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD_ATTRIBUTES:
                setattr(record, name, redact_value(value))
        return True


def _redact_message(record: logging.LogRecord) -> None:
    """Scrub the formatted message: arguments are often objects (an exception's repr, as in
    Celery's "raised unexpected: %(exc)r") whose text only exists once formatted."""
    if isinstance(record.msg, Mapping):
        # A dict message is a set of fields for the JSON formatter: keep it one.
        record.msg = redact_value(record.msg)
        return
    try:
        message = record.getMessage()
    except Exception:
        # Arguments that do not fit the format: logging reports that itself when it formats;
        # scrub what can be scrubbed and leave the mismatch as it is.
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        record.args = redact_value(record.args)
        return
    record.msg, record.args = redact(message), None


def _redact_traceback(record: logging.LogRecord) -> None:
    """Format the exception now, scrubbed, and drop the live one: formatters then print the
    scrubbed text (the JSON formatter would otherwise format `exc_info` afresh)."""
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    record.exc_info = None
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def configure_celery_logging(**_signal_arguments: Any) -> None:
    """Celery's `setup_logging` signal: workers and beat log exactly as the web processes do
    (settings.LOGGING, level from LOG_LEVEL), through the filter above. Without a receiver,
    Celery would replace the root handlers with its own, unfiltered ones."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
