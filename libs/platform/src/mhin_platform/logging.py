"""JSON structured logging: one JSON object per line on stderr.

Every line carries the service name and the correlation id of the call or event
being handled (and its trace id when one is known), so the lines of one request
can be found across services. Whoever handles a request sets ``correlation_id_var``
(the gRPC logging interceptor does it for every call).
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)
trace_id_var: ContextVar[str | None] = ContextVar("trace_id", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line; fields passed with ``extra=`` are kept."""

    def __init__(self, service_name: str) -> None:
        super().__init__()
        self._service_name = service_name

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self._service_name,
            "correlation_id": correlation_id_var.get(),
        }
        if trace_id := trace_id_var.get():
            line["trace_id"] = trace_id
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES:
                line.setdefault(key, value)  # an extra never hides a standard field
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(service_name: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every log record of the process, as JSON, to ``stream`` (stderr by default).

    Replaces the root logger's handlers, so calling it again reconfigures rather
    than duplicating lines.
    """
    handler = logging.StreamHandler(stream)  # None means stderr
    handler.setFormatter(JsonFormatter(service_name))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
