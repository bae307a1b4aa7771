"""lark-oapi's own long-connection client works against the fake's WebSocket side.

The SDK's ``lark.ws.Client.start()`` blocks forever on a module-level event loop, so it
runs in a child process, printing the event ids its handler gets; the fake records the
SDK's answers. This checks the fake (discovery, frames, pings, answers) against the
official implementation, as the HTTP contract tests do for the Open API.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from lark_service.testing.fake_lark import FakeLark, RunningServer, serve_in_thread
from tests.unit.events_support import event_v2

pytestmark = pytest.mark.contract

APP_ID, SECRET = "cli_sdk_ws", "sdk-ws-secret-0123"

CHILD = """
import sys
import lark_oapi as lark

def on_message(data):
    print("event", data.header.event_id, flush=True)

handler = (
    lark.EventDispatcherHandler.builder("", "")
    .register_p2_im_message_receive_v1(on_message)
    .build()
)
client = lark.ws.Client(
    sys.argv[2], sys.argv[3], event_handler=handler, domain=sys.argv[1],
    log_level=lark.LogLevel.ERROR,
)
client.start()
"""


@pytest.fixture
def running() -> Iterator[RunningServer]:
    fake = FakeLark()
    fake.add_app(APP_ID, SECRET)
    fake.long_connections.set_config(PingInterval=1)
    with serve_in_thread(fake) as server:
        yield server


def wait_for(check: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s")
        time.sleep(0.02)


def test_the_sdks_ws_client_gets_events_and_answers_them(running: RunningServer) -> None:
    fake: FakeLark = running.fake
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, running.base_url, APP_ID, SECRET],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: fake.long_connections.connections(APP_ID) == 1, 30)
        fake.push_ws_event(APP_ID, event_v2(app_id=APP_ID, event_id="sdk-ev-1"))
        fake.push_ws_event(APP_ID, event_v2(app_id=APP_ID, event_id="sdk-ev-2"), parts=3)
        lines: queue.Queue[str] = queue.Queue()
        stdout = child.stdout
        assert stdout is not None

        def pump() -> None:
            for line in stdout:
                lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
        got = {lines.get(timeout=10).split()[1] for _ in range(2)}
        assert got == {"sdk-ev-1", "sdk-ev-2"}
        wait_for(lambda: len(fake.long_connections.acks(APP_ID)) == 2, 10)
        assert {a.code for a in fake.long_connections.acks(APP_ID)} == {200}
        wait_for(lambda: fake.long_connections.pings(APP_ID) >= 1, 5)  # at our PingInterval
    finally:
        child.kill()
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
