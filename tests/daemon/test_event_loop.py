"""`daemon.event_loop`: which loop `maild run` runs on, and that its start-up log says so."""

from __future__ import annotations

import asyncio
import builtins
import json

import pytest
import uvloop

from maild.daemon import loop_factory, loop_implementation


def _loop_name(choice: str) -> str:
    loop = loop_factory(choice)()
    try:
        return loop_implementation(loop)
    finally:
        loop.close()


def test_auto_and_uvloop_run_on_uvloop_and_asyncio_on_its_own_loop() -> None:
    assert loop_factory("uvloop") is uvloop.new_event_loop
    assert _loop_name("auto") == "uvloop"
    assert _loop_name("uvloop") == "uvloop"
    assert _loop_name("asyncio") == "asyncio"
    assert loop_factory("asyncio") is asyncio.new_event_loop


def test_auto_falls_back_to_asyncio_when_uvloop_does_not_import(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_uvloop(name: str, *args: object, **kwargs: object) -> object:
        if name == "uvloop":
            raise ImportError("No module named 'uvloop'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    assert _loop_name("auto") == "asyncio"
    with pytest.raises(ImportError):
        loop_factory("uvloop")  # named explicitly: never a silent fallback


def _started_on(log: str) -> dict[str, object]:
    return next(e for e in map(json.loads, log.splitlines()) if e.get("event") == "event_loop_selected")


def test_the_daemon_runs_on_uvloop_by_default_and_logs_it(maild) -> None:
    maild.start()
    assert maild.terminate() == 0
    entry = _started_on(maild.log.read_text())
    assert (entry["setting"], entry["implementation"]) == ("auto", "uvloop")


def test_event_loop_asyncio_runs_the_daemon_on_asyncio_and_logs_it(maild) -> None:
    maild.config.write_text(maild.config.read_text() + '\n[daemon]\nevent_loop = "asyncio"\n')
    maild.start()
    assert maild.terminate() == 0
    entry = _started_on(maild.log.read_text())
    assert (entry["setting"], entry["implementation"]) == ("asyncio", "asyncio")
