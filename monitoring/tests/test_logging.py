import json
import logging

from pythonjsonlogger.json import JsonFormatter

from monitoring.logging import ContextFilter, redact, session_var, tenant_var
from voice.engine.log_context import current_turn


def test_keys_and_bearer_tokens_are_scrubbed():
    line = (
        "auth Bearer abc.def with sk_AbCd1234_secretpart "
        "and sk-proj-0123456789abcdef and pk_Zz9Zz9Zz_x"
    )
    cleaned = redact(line)
    for secret in ("abc.def", "sk_AbCd1234", "sk-proj-0123456789abcdef", "pk_Zz9Zz9Zz_x"):
        assert secret not in cleaned
    assert cleaned.count("[redacted]") == 4


def test_json_lines_carry_tenant_session_and_turn_ids_without_secrets():
    record = logging.LogRecord(
        "aura.test", logging.INFO, __file__, 1, "key %s used", ("sk_AbCd1234_zz",), None
    )
    tenant_token, session_token = tenant_var.set("org_alpha"), session_var.set("sess_1")
    turn_token = current_turn.set("resp_7")
    try:
        ContextFilter().filter(record)
    finally:
        tenant_var.reset(tenant_token)
        session_var.reset(session_token)
        current_turn.reset(turn_token)
    line = JsonFormatter("%(levelname)s %(message)s %(tenant)s %(session)s %(turn)s").format(record)
    payload = json.loads(line)
    assert payload["tenant"] == "org_alpha"
    assert payload["session"] == "sess_1"
    assert payload["turn"] == "resp_7"
    assert "sk_AbCd1234" not in line


def test_mapping_arguments_are_scrubbed_and_still_format():
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "%(who)s failed", None, None)
    record.args = {"who": "key sk_live_abcdef123456"}
    ContextFilter().filter(record)
    assert record.getMessage() == "key [redacted] failed"
