"""Logging set-up and the structured JSON access log."""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import BinaryIO

import orjson
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse
from multidict import istr

from veza.keys import REQUEST_ID

_now = time.time
USER_AGENT = istr("User-Agent")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def _json_text(value: object) -> str:
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # a lone surrogate: the standard library escapes it
        return json.dumps(value)


def _utc_second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


# The JSON keys' order is free; what requests repeat comes first, as one piece.
ACCESS_LINE = '{"ts":"%s",%s"duration_ms":%.2f,"bytes":%d,"request_id":%s}\n'


class AccessLines:
    """The access log's lines, kept as tuples and written as JSON shortly after, one batch at a time.

    A request costs a tuple. A batch is formatted in one pass: a line is its time (its second formatted
    once), the text of what requests repeat (logger, method, path, status, remote address, user
    agent: JSON-escaped once and remembered), its duration, size and request id. It is written (and
    flushed) at once. Lines reach stdout within FLUSH_AFTER seconds or BATCH lines, and at exit.
    """

    FLUSH_AFTER = 0.2
    BATCH = 256  # lines: a larger batch would hold the event loop for longer
    REMEMBERED = 4096  # repeated parts kept

    def __init__(self, stream: BinaryIO | None = None) -> None:
        self.stream = stream  # None: sys.stdout's byte buffer, as it is when flushed
        self._pending: list[tuple] = []
        self._timer: asyncio.TimerHandle | None = None
        self._repeated: dict[tuple, str] = {}
        atexit.register(self.flush)

    def add(self, entry: tuple) -> None:
        """`entry`: (time, seconds, bytes, request id, logger, method, path, status, remote, user agent)."""
        self._pending.append(entry)
        if len(self._pending) >= self.BATCH:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.FLUSH_AFTER, self.flush)

    def _repeated_text(self, shape: tuple) -> str:
        logger, method, path, status, remote, user_agent = shape
        text = (
            f'"level":"info","logger":{_json_text(logger)},"method":{_json_text(method)},"path":{_json_text(path)},'
            f'"status":{status},"remote":{_json_text(remote)},"user_agent":{_json_text(user_agent)},'
        )
        if len(self._repeated) >= self.REMEMBERED:
            self._repeated.clear()
        self._repeated[shape] = text
        return text

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, []
        if not pending:
            return
        repeated = self._repeated
        lines = []
        last_millisecond = last_second = stamp = second_text = None
        for entry in pending:
            when, seconds, length, request_id = entry[:4]
            shape = entry[4:]
            millisecond = int(when * 1000)
            if millisecond != last_millisecond:
                second, fraction = divmod(millisecond, 1000)
                if second != last_second:
                    last_second, second_text = second, _utc_second(second)
                last_millisecond, stamp = millisecond, f"{second_text}.{fraction:03d}Z"
            # The edge only keeps request ids of [A-Za-z0-9._:-] (veza.edge): nothing to escape.
            lines.append(
                ACCESS_LINE
                % (
                    stamp,
                    repeated.get(shape) or self._repeated_text(shape),
                    seconds * 1000,
                    length,
                    "null" if request_id is None else f'"{request_id}"',
                )
            )
        data = "".join(lines).encode()
        if self.stream is not None:
            self.stream.write(data)
            return
        # Straight to the byte buffer: other log records flush their text as they go, so order holds.
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


_access_lines = AccessLines()


class AccessLogger(AbstractAccessLogger):
    """One JSON line per request on stdout: method, path, status, duration, request id."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        _access_lines.add(
            (
                _now(),
                time,
                response.body_length,
                request.get(REQUEST_ID),
                self.logger.name,
                request.method,
                request.path,
                response.status,
                request.remote,
                request.headers.get(USER_AGENT),
            )
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
