"""Recovery after a web process died: what it journaled is stored, its conversations ended.

Run by the beat task `voice.recover_realtime_sessions` (every minute), in a Celery worker.
- Journaled records older than `AURA_TURN_JOURNAL_GRACE_SECONDS` are written to PostgreSQL
  (a live writer takes milliseconds; an older record's process is gone, or its database was
  away) and dropped from the journal. Writing is idempotent, so a race with a slow live writer
  or a resumed session stores each record once.
- An active conversation whose session holds no lease (no live socket renews it: the session-
  owner record of voice/realtime/limits.py is the session's heartbeat) and has no resume
  snapshot (its resume window has passed) is ended: nobody can carry it on.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from django_tenants.utils import schema_context

from conversations.models import AppliedTurnRecord, Conversation
from conversations.selectors import active_conversation_sessions
from conversations.services import applied_turn_records_prune, conversations_end
from core.redis import redis_sync_client
from tenants.sweeps import schemas_having
from voice.realtime.journal import journal_entries_older_than, journal_remove_sync
from voice.realtime.limits import session_owner_key
from voice.realtime.persistence import record_turn, record_usage
from voice.realtime.resume import snapshot_key

logger = logging.getLogger(__name__)

# Claims of stored records are kept this long: far longer than any record stays journaled.
CLAIMS_KEPT_S = 7 * 24 * 3600


def journal_recover(*, older_than_s: float) -> int:
    """Store the journaled records older than `older_than_s`; how many were stored. Stops at
    the first lost database connection (the next run carries on)."""
    stored = 0
    for entry_id, record in journal_entries_older_than(older_than_s):
        try:
            with schema_context(record.schema_name):
                record_usage(record)
                record_turn(record)
        except (OperationalError, InterfaceError):
            logger.exception("database unavailable: journal recovery stops here")
            break
        except Exception:
            logger.exception("journaled record %s cannot be stored; dropped", record.record_id)
        else:
            stored += 1
        journal_remove_sync(entry_id)
    return stored


def _gone(session_ids: list[str]) -> set[str]:
    """The sessions with neither a live lease nor a resume snapshot."""
    with redis_sync_client().pipeline(transaction=False) as pipe:
        for session_id in session_ids:
            pipe.exists(session_owner_key(session_id), snapshot_key(session_id))
        counts = pipe.execute()
    return {sid for sid, count in zip(session_ids, counts, strict=True) if not count}


def conversations_end_orphaned(*, grace_s: float) -> int:
    """End the active realtime conversations whose session is gone for good; how many."""
    cutoff = timezone.now() - timedelta(seconds=grace_s)
    ended = 0
    where = "status = 'active' AND started_at < %s AND session_id LIKE 'sess%%'"
    for schema_name in schemas_having(Conversation, where, [cutoff]):
        with schema_context(schema_name):
            rows = [
                (cid, sid)
                for cid, sid in active_conversation_sessions(started_before=cutoff)
                if sid.startswith("sess_")
            ]
            gone = _gone([sid for _cid, sid in rows]) if rows else set()
            ended += conversations_end(conversation_ids=[cid for cid, sid in rows if sid in gone])
    return ended


def applied_claims_prune() -> int:
    cutoff = timezone.now() - timedelta(seconds=CLAIMS_KEPT_S)
    pruned = 0
    for schema_name in schemas_having(AppliedTurnRecord, "applied_at < %s", [cutoff]):
        with schema_context(schema_name):
            pruned += applied_turn_records_prune(older_than_s=CLAIMS_KEPT_S)
    return pruned


def realtime_recover() -> dict[str, int]:
    """One recovery pass: journal first (so that an ended conversation has its turns)."""
    stored = journal_recover(older_than_s=settings.AURA_TURN_JOURNAL_GRACE_SECONDS)
    ended = conversations_end_orphaned(grace_s=settings.AURA_TURN_JOURNAL_GRACE_SECONDS)
    return {"stored": stored, "ended": ended, "pruned": applied_claims_prune()}
