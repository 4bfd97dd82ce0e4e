import io
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pythonjsonlogger.json import JsonFormatter

from monitoring.logging import ContextFilter, redact, session_var, tenant_var
from voice.engine.observability.log_context import current_turn


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


# -- every part of a record a formatter writes out --------------------------------------------

XAI_KEY = "xai-" + "Q" * 40
OPENAI_KEY = "sk-proj-" + "P" * 40
AURA_KEY = "sk_live_" + "L" * 24


def _logged(formatter: logging.Formatter, log: Callable[[logging.Logger], None]) -> str:
    """What a real handler with the context filter writes for the records `log` emits."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(ContextFilter())
    logger = logging.getLogger(f"aura.test.redaction.{id(stream)}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        log(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


FORMATTERS = {
    "text": logging.Formatter("%(levelname)s %(message)s"),
    "json": JsonFormatter("%(levelname)s %(message)s"),
}


@pytest.mark.parametrize("formatter", FORMATTERS.values(), ids=FORMATTERS.keys())
def test_secrets_in_a_traceback_are_scrubbed(formatter: logging.Formatter) -> None:
    def fail(logger: logging.Logger) -> None:
        try:
            raise ConnectionError(f"refused {XAI_KEY} and Authorization: Bearer {OPENAI_KEY}")
        except ConnectionError:
            logger.exception("provider call failed")

    output = _logged(formatter, fail)

    assert "ConnectionError" in output
    assert "Traceback" in output
    assert XAI_KEY not in output
    assert OPENAI_KEY not in output
    assert "Q" * 10 not in output


@pytest.mark.parametrize("formatter", FORMATTERS.values(), ids=FORMATTERS.keys())
def test_secrets_in_a_stack_are_scrubbed(formatter: logging.Formatter) -> None:
    def stack(logger: logging.Logger) -> None:
        # The stack quotes source lines, this one's comment included.
        logger.info("here", stack_info=True)  # sk_live_LLLLLLLLLLLLLLLLLLLLLLLL

    output = _logged(formatter, stack)

    assert "Stack" in output
    assert "sk_live_LLLL" not in output


def test_extra_fields_are_scrubbed_in_json_lines() -> None:
    output = _logged(
        FORMATTERS["json"],
        lambda logger: logger.warning(
            "upstream refused",
            extra={
                "api_key": OPENAI_KEY,
                "request": {"headers": {"Authorization": f"Bearer {XAI_KEY}"}, "retries": 2},
                "keys": [AURA_KEY, "pk_test_" + "K" * 20],
            },
        ),
    )

    payload = json.loads(output)
    assert payload["api_key"] == "[redacted]"
    assert payload["request"] == {"headers": {"Authorization": "[redacted]"}, "retries": 2}
    assert payload["keys"] == ["[redacted]", "[redacted]"]


def test_objects_formatted_into_the_message_are_scrubbed() -> None:
    # Celery's own words for a failed task: the exception goes in as an object, shown by repr.
    output = _logged(
        FORMATTERS["text"],
        lambda logger: logger.error(
            "Task %(name)s raised unexpected: %(exc)r",
            {"name": "conversations.summarize", "exc": ValueError(f"key {XAI_KEY}")},
        ),
    )

    assert (
        output
        == "ERROR Task conversations.summarize raised unexpected: ValueError('key [redacted]')\n"
    )


def test_every_kind_of_key_is_recognised() -> None:
    for secret in (
        XAI_KEY,
        OPENAI_KEY,
        AURA_KEY,
        "pk_live_abcdef",
        "ek_abcdef12",
        "sk_test_x1y2z3",
    ):
        assert redact(f"saw {secret}.") == "saw [redacted]."
    assert redact('{"authorization": "Bearer abc.def-ghi"}') == '{"authorization": "[redacted]"}'


def test_a_celery_worker_scrubs_secrets_from_what_it_logs(db: None, tmp_path: Path) -> None:
    """A real worker runs a task that fails with a key in its error (a schema name that is one):
    Celery's failure line and the traceback it logs are scrubbed, in valid JSON lines."""
    from django.conf import settings
    from django.db import connection

    from conversations.tasks import end_stale_conversations
    from tenants.tests.celery_worker import run_celery_worker

    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-logging"
    log_path = tmp_path / "worker.log"
    with (
        log_path.open("wb") as output,
        run_celery_worker(
            database_name=connection.settings_dict["NAME"],
            queue=queue,
            output=output,
            extra_env={"LOG_FORMAT": "json"},
        ),
    ):
        end_stale_conversations.apply_async(args=(AURA_KEY,), queue=queue)
        failure = _wait_for_line(log_path, "raised unexpected")

    record = json.loads(failure)
    assert record["level"] == "ERROR"
    assert "NotAnOrganizationSchemaError" in record["message"]
    assert "[redacted]" in record["message"]
    assert "[redacted]" in record["exc_info"]
    assert AURA_KEY not in log_path.read_text()


def _wait_for_line(path: Path, needle: str, timeout_s: float = 60.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in path.read_text(errors="replace").splitlines():
            if needle in line:
                return line
        time.sleep(0.2)
    raise AssertionError(f"the worker logged no {needle!r} in {timeout_s} s:\n{path.read_text()}")
