"""UVLOOP chooses the event loop of `veza serve` and `veza worker`."""

import asyncio

import uvloop

from veza import eventloop
from veza.settings import load_settings


async def loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_uvloop_runs_the_coroutine_on_uvloop():
    assert eventloop.run(loop_type(), use_uvloop=True) is uvloop.Loop


def test_without_uvloop_it_is_asyncios_own_loop():
    assert issubclass(eventloop.run(loop_type(), use_uvloop=False), asyncio.BaseEventLoop)
    assert eventloop.run(loop_type(), use_uvloop=False) is not uvloop.Loop


def test_the_setting_is_off_unless_turned_on(monkeypatch):
    assert load_settings().uvloop is False
    monkeypatch.setenv("UVLOOP", "true")
    assert load_settings().uvloop is True
