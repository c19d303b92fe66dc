"""Structured logs: JSON lines by default (readable console text with PARLEY_LOG_FORMAT=console).

Every line carries the request's correlation id when there is one (bound by the HTTP telemetry
middleware through structlog's context variables). A last processor blanks secrets out of
every line whatever a caller passed: values of keys that name a secret, API tokens
(`prl_<id>_<secret>` keeps its id only), passwords in URLs and `Bearer` credentials. Secrets
must not reach the log even through a careless `log.info(..., settings=settings)`.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from typing import Any, TextIO

import structlog

SECRET_KEYS = re.compile(r"pass(word)?|secret|token|authorization|credential|api[_-]?key|cookie", re.I)
_TOKEN = re.compile(r"\b(prl_[A-Za-z0-9]+_)[A-Za-z0-9_-]+")
_URL_PASSWORD = re.compile(r"(?<=://)([^:/@\s]+):[^@\s]+@")
_BEARER = re.compile(r"(?i)\b(bearer\s+)\S+")
REDACTED = "***"


#: Every pattern above needs one of these substrings: a text without any is returned as it is
#: (one search instead of three substitutions; request log lines are written on every request).
_MAY_HOLD_SECRET = re.compile(r"prl_|://|(?i:bearer)")


def redact_text(text: str) -> str:
    """`text` with tokens, URL passwords and bearer credentials blanked."""
    if _MAY_HOLD_SECRET.search(text) is None:
        return text
    text = _TOKEN.sub(r"\1" + REDACTED, text)
    text = _URL_PASSWORD.sub(r"\1:" + REDACTED + "@", text)
    return _BEARER.sub(r"\1" + REDACTED, text)


@functools.lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    """Does a key name a secret? (Log keys are few and repeat: decided once per key.)"""
    return SECRET_KEYS.search(key) is not None and not key.endswith("_id")


def _clean(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth > 4:
        return value
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and _secret_key(k) and v not in (None, "")
                    else _clean(v, depth + 1)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v, depth + 1) for v in value]
    if hasattr(value, "get_secret_value"):  # pydantic SecretStr
        return REDACTED
    return value


def redact_secrets(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the last line of defence against secrets in logs."""
    return _clean(event_dict)


def configure(*, fmt: str = "json", level: str = "info", stream: TextIO | None = None) -> None:
    """Set up structlog and route the standard library's loggers (nats, uvicorn) through it."""
    out = stream or sys.stderr
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    renderer: Any = structlog.dev.ConsoleRenderer(colors=False) if fmt == "console" else structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared[:-2], structlog.stdlib.ExtraAdder(), redact_secrets],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, redact_secrets, renderer],
    ))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_parley", False):
            root.removeHandler(old)
    handler._parley = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
