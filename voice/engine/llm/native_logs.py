"""llama.cpp's own log lines, routed to Python logging at debug level.

llama.cpp reports through a C callback. The one llama-cpp-python installs maps the log levels
of an older ggml (today 1 is debug, 2 info, 3 warning, 4 error, 5 "continue the previous
line"), so with `verbose=False` it still prints every warning to the terminal: "using
full-size SWA cache" at each load and "decode: removing memory module entries ..." each time a
prompt is cancelled while being read, which the voice engine does on purpose whenever a
speculative answer is abandoned. None of it is for the user of a voice session, so every line
goes to the `llama_cpp.native` logger at debug level, with llama.cpp's level named in it;
failures that matter reach the caller as exceptions anyway.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from typing import Any

logger = logging.getLogger("llama_cpp.native")

GGML_LEVEL_NAMES = {0: "none", 1: "debug", 2: "info", 3: "warning", 4: "error"}
GGML_LEVEL_CONTINUE = 5

_installed_callback: Any = None
_install_guard = threading.Lock()
_partial = threading.local()


def route_native_logs() -> None:
    """Send llama.cpp's log lines to `llama_cpp.native` (idempotent; call after import)."""
    global _installed_callback
    import llama_cpp

    with _install_guard:
        if _installed_callback is not None:
            return
        # The C side keeps only a pointer: the ctypes callback must stay referenced for good.
        _installed_callback = llama_cpp.llama_log_callback(_on_native_log)
        llama_cpp.llama_log_set(_installed_callback, ctypes.c_void_p(0))


def _on_native_log(level: int, text: bytes, _user_data: object) -> None:
    """Collect pieces until a newline; log whole lines (llama.cpp writes some in pieces)."""
    if level != GGML_LEVEL_CONTINUE:
        _log_lines(_pending() + "\n")
        _partial.level = GGML_LEVEL_NAMES.get(level, str(level))
    _partial.text = _log_lines(_pending() + text.decode("utf-8", errors="replace"))


def _pending() -> str:
    text: str = getattr(_partial, "text", "")
    return text


def _log_lines(text: str) -> str:
    """Log each complete line of `text`; return the unfinished rest."""
    *lines, rest = text.split("\n")
    for line in lines:
        if line.strip():
            logger.debug("[%s] %s", getattr(_partial, "level", "info"), line)
    return rest
