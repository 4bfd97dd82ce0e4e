"""Where the engine's measurements go (a port: Prometheus in the app, a list in tests).

It lives here rather than in `voice.engine.ports` because the observability modules that
report to it sit below the ports (which re-export it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class MetricsSink(Protocol):
    def observe(self, name: str, value: float, labels: Mapping[str, str]) -> None: ...
