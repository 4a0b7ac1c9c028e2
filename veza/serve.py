"""How `veza serve` runs the web process: a listening socket that caps the connections one
address may hold, the envelope on requests aiohttp's parser refuses, an accept-failure log of
one line per interval, and the open-files limit raised to its hard limit.

The cap counts TCP peers. Behind a proxy (TRUST_PROXY) every connection comes from the proxy,
so there it bounds what one proxy address may hold: set MAX_CONNECTIONS_PER_ADDRESS above the
proxy's own concurrency, or 0 to turn the cap off.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler

from veza import eventloop
from veza.edge import EdgeRunner
from veza.http import error_body, json_dumps
from veza.memory import freeze_startup_objects

log = logging.getLogger(__name__)

ACCEPT_FAILURE_LOG_INTERVAL = 10.0  # seconds between two lines about refused accepts
# What asyncio's selector loop reports when accept() fails for want of file descriptors or memory.
ACCEPT_FAILURE = "socket.accept() out of system resource"


class Throttle:
    """Lets one event through per `interval` seconds and counts the ones it held back."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.held_back = 0
        self._last: float | None = None

    def allow(self) -> bool:
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            self.held_back += 1
            return False
        self._last = now
        return True

    def take_held_back(self) -> int:
        held_back, self.held_back = self.held_back, 0
        return held_back


class AcceptFailureLog:
    """The event loop's exception handler: refused accepts make one log line per interval.

    When the process runs out of file descriptors, asyncio logs every failed accept() with its
    traceback (and retries many times a second); anything else goes to the default handler.
    """

    def __init__(self, interval: float = ACCEPT_FAILURE_LOG_INTERVAL, clock: Callable[[], float] = time.monotonic):
        self.throttle = Throttle(interval, clock)

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if not str(context.get("message", "")).startswith(ACCEPT_FAILURE):
            loop.default_exception_handler(context)
            return
        if self.throttle.allow():
            log.error(
                "cannot accept connections: %s (%d more refused accepts since the last line)",
                context.get("exception"),
                self.throttle.take_held_back(),
            )


class EnvelopeRequestHandler(RequestHandler):
    """aiohttp's protocol, answering requests its parser refuses (a request line over 16 KiB, a
    header line over 8 KiB, bytes HTTP does not allow) with the envelope, like every other error.

    Those never reach a middleware: aiohttp answers them itself, in plain text, and logs each one
    with its traceback. A client's malformed request is not the server's error: it is logged at
    debug level; anything else keeps aiohttp's error log.
    """

    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError) or status >= 500:
            return super().handle_error(request, status, exc, message)
        log.debug("refused a malformed request from %s: %s", request.remote, exc)
        if request.writer.output_size > 0:
            raise ConnectionError("the answer has begun; no error can follow it")
        if isinstance(exc, LineTooLong):
            code, text = "line_too_long", "Request line (16 KiB at most) or a header line (8 KiB at most) is too long"
        else:
            code, text = "malformed_request", "Malformed HTTP request"
        response = web.Response(
            status=status, body=json_dumps(error_body(code, text, [], None)), content_type="application/json"
        )
        response.force_close()
        return response


def envelope_handlers(server: web.Server) -> Callable[[], asyncio.Protocol]:
    """A protocol factory like `server` itself, whose protocols answer parser errors with the envelope."""
    # web.Server keeps the protocol's arguments (the app's handler_args, the runner's) in `_kwargs`.
    return lambda: EnvelopeRequestHandler(server, loop=asyncio.get_running_loop(), **server._kwargs)


class AddressCap:
    """A protocol factory for `loop.create_server`: at most `limit` open connections per client
    address (0: no limit). A connection past the limit is closed before aiohttp sees it."""

    def __init__(self, factory: Callable[[], asyncio.Protocol], limit: int) -> None:
        self.factory = factory
        self.limit = limit
        self.open: Counter[str] = Counter()
        self.refusals = Throttle(ACCEPT_FAILURE_LOG_INTERVAL)

    def __call__(self) -> asyncio.Protocol:
        return _CountedConnection(self)

    def admit(self, address: str) -> bool:
        if self.limit and self.open[address] >= self.limit:
            if self.refusals.allow():
                log.warning(
                    "refusing connections from %s: it holds %d already (%d more refused since the last line)",
                    address,
                    self.limit,
                    self.refusals.take_held_back(),
                )
            return False
        self.open[address] += 1
        return True

    def release(self, address: str) -> None:
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]


class _CountedConnection(asyncio.Protocol):
    """Counts its connection against its address, and hands everything else to aiohttp's protocol."""

    def __init__(self, cap: AddressCap) -> None:
        self.cap = cap
        self.address: str | None = None
        self.inner: asyncio.Protocol | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        if not self.cap.admit(address):
            transport.abort()
            return
        self.address = address
        self.inner = inner = self.cap.factory()
        # The transport calls these on every read and write: straight to aiohttp's protocol.
        self.data_received = inner.data_received  # type: ignore[method-assign]
        self.eof_received = inner.eof_received  # type: ignore[method-assign]
        self.pause_writing = inner.pause_writing  # type: ignore[method-assign]
        self.resume_writing = inner.resume_writing  # type: ignore[method-assign]
        inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.inner is None:
            return
        self.cap.release(self.address or "")
        self.inner.connection_lost(exc)

    # uvloop looks these up once, before connection_made replaces them: they forward to aiohttp's protocol.
    def data_received(self, data: bytes) -> None:
        if self.inner is not None:  # None: refused and aborted
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()


class CappedTCPSite(web.BaseSite):
    """A TCP site whose connections go through an AddressCap, to EnvelopeRequestHandler protocols.

    With `reuse_port`, the socket is bound with SO_REUSEPORT: several processes listen on one port
    and the kernel spreads new connections over them.
    """

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        per_address: int,
        reuse_port: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(runner, **kwargs)
        self._host = host
        self._port = port
        self.per_address = per_address
        self.reuse_port = reuse_port

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def port(self) -> int:
        """The bound port (the one asked for until the site has started)."""
        if self._server is not None and self._server.sockets:
            return self._server.sockets[0].getsockname()[1]
        return self._port

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self.cap = AddressCap(envelope_handlers(server), self.per_address)
        self._server = await asyncio.get_running_loop().create_server(
            self.cap, self._host, self._port, backlog=self._backlog, reuse_port=self.reuse_port or None
        )


def raise_open_files_limit() -> None:
    """Raise the soft RLIMIT_NOFILE to the hard limit: every connection holds a descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:  # an unlimited hard limit may exceed what the kernel allows
        log.warning("could not raise the open-files limit from %d: %s", soft, exc)


async def serve(
    app: web.Application, host: str, port: int, *, per_address: int, reuse_port: bool = False, **runner_args: Any
) -> None:
    """Serve `app` until SIGINT or SIGTERM, then shut it down gracefully."""
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(AcceptFailureLog())
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = EdgeRunner(app, **runner_args)
    await runner.setup()
    try:
        site = CappedTCPSite(runner, host, port, per_address=per_address, reuse_port=reuse_port)
        await site.start()
        log.info("serving on %s:%s%s", host, site.port, " (SO_REUSEPORT)" if reuse_port else "")
        await stop.wait()
    finally:
        await runner.cleanup()


def run(
    app: web.Application,
    host: str,
    port: int,
    *,
    per_address: int,
    reuse_port: bool = False,
    use_uvloop: bool = False,
    **runner_args: Any,
) -> None:
    raise_open_files_limit()
    freeze_startup_objects()
    eventloop.run(
        serve(app, host, port, per_address=per_address, reuse_port=reuse_port, **runner_args), use_uvloop=use_uvloop
    )
