"""UVLOOP chooses the event loop of `veza serve` and `veza worker`."""

import asyncio
import os
import socket

import aiopg
import psycopg2
import uvloop

from veza import eventloop
from veza.settings import load_settings


async def loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_uvloop_runs_the_coroutine_on_uvloop():
    assert issubclass(eventloop.run(loop_type(), use_uvloop=True), uvloop.Loop)


def test_without_uvloop_it_is_asyncios_own_loop():
    assert issubclass(eventloop.run(loop_type(), use_uvloop=False), asyncio.BaseEventLoop)
    assert not issubclass(eventloop.run(loop_type(), use_uvloop=False), uvloop.Loop)


def test_the_setting_is_on_unless_turned_off(monkeypatch):
    assert load_settings().uvloop is True
    monkeypatch.setenv("UVLOOP", "false")
    assert load_settings().uvloop is False


def refused_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"{sock.getsockname()[0]}:{sock.getsockname()[1]}"  # closed again: nothing listens there


async def refused_connects(dsn: str, times: int) -> tuple[list[type], int]:
    """The errors of `times` aiopg connects to `dsn`, and the descriptors they left open."""
    open_before = len(os.listdir("/proc/self/fd"))
    errors = []
    for _ in range(times):
        try:
            await aiopg.connect(dsn, timeout=5)
        except Exception as exc:
            errors.append(type(exc))
    return errors, len(os.listdir("/proc/self/fd")) - open_before


def test_refused_postgresql_connects_fail_the_same_way_on_uvloop():
    """uvloop kept a closed handle under a refused connection's descriptor number: every other connect
    raised RuntimeError and leaked its connection."""
    dsn = f"postgresql://postgres@{refused_address()}/veza"
    for use_uvloop in (False, True):
        errors, left_open = eventloop.run(refused_connects(dsn, 6), use_uvloop=use_uvloop)
        assert errors == [psycopg2.OperationalError] * 6, use_uvloop
        assert left_open == 0, use_uvloop
