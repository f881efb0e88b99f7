"""An upload steps aside for children's turns: ``foreground`` and the ``TurnsFirst`` mark."""

from __future__ import annotations

import threading
import time

import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from readloom import foreground
from readloom.api.turns_first import TurnsFirst


def _in_background(fn):
    """Run ``fn`` on a thread marked background; returns (thread, box of its result)."""
    box: dict[str, float] = {}

    def run() -> None:
        with foreground.background():
            box["value"] = fn()
            box["at"] = time.monotonic()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


def test_background_work_waits_for_the_turn_in_flight_to_end():
    with foreground.turn():
        thread, box = _in_background(lambda: foreground.step_aside(worked_s=0.2))
        time.sleep(0.15)
        assert "value" not in box  # still waiting: the turn is in flight
        ended = time.monotonic()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert box["at"] >= ended  # it went on only after the turn ended


def test_a_turn_that_never_ends_delays_background_work_a_bounded_time():
    with foreground.turn():
        thread, box = _in_background(lambda: foreground.step_aside(worked_s=10.0))
        thread.join(timeout=5)
        assert not thread.is_alive()
        assert foreground.MIN_WAIT_S <= box["value"] <= foreground.MAX_WAIT_S + 0.5


def test_work_not_marked_background_never_waits_for_turns():
    with foreground.turn():
        spent = foreground.step_aside(worked_s=10.0)
    assert spent < foreground.MIN_WAIT_S


def test_with_no_turn_background_work_goes_on_once_the_class_is_quiet():
    time.sleep(foreground.QUIET_S)
    thread, box = _in_background(lambda: foreground.step_aside(worked_s=10.0))
    thread.join(timeout=5)
    assert box["value"] < foreground.MIN_WAIT_S


async def test_a_childs_message_is_a_turn_from_its_first_byte_and_an_upload_is_not():
    async def seen(request):
        return JSONResponse({"turns": foreground.turns_in_flight()})

    app = TurnsFirst(
        Starlette(
            routes=[
                Route("/v1/sessions", seen, methods=["GET", "POST"]),
                Route("/v1/sessions/{sid}/messages", seen, methods=["GET", "POST"]),
                Route("/v1/passages", seen, methods=["POST"]),
            ]
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        marked = [
            (await client.post("/v1/sessions/s-1/messages")).json()["turns"],
            (await client.post("/v1/sessions")).json()["turns"],
        ]
        unmarked = [
            (await client.post("/v1/passages")).json()["turns"],
            (await client.get("/v1/sessions/s-1/messages")).json()["turns"],
        ]
    assert marked == [1, 1]
    assert unmarked == [0, 0]
    assert foreground.turns_in_flight() == 0
