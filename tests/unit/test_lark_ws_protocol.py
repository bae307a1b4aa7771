"""The long connection's pieces without a socket: frames (against lark-oapi's generated
frame: tests/contract/test_lark_oapi_ws_frames.py), multi-part reassembly, the server's ClientConfig, endpoint replies, the
handshake refusals, and the in-memory lease store."""

from __future__ import annotations

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

from lark_service.adapters.lark_ws.client import _handshake_error
from lark_service.adapters.lark_ws.endpoint import ClientConfig, _endpoint
from lark_service.adapters.lark_ws.frames import (
    METHOD_DATA,
    Frame,
    FrameError,
    decode_frame,
)
from lark_service.adapters.lark_ws.reassembly import Reassembler
from lark_service.adapters.memory.leases import InMemoryLeaseStore
from lark_service.domain.errors import AuthError, ServerError

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("data", [b"\xff\xff\xff", b"", b"\x08\x01"])
def test_bytes_that_are_no_frame_are_refused(data: bytes) -> None:
    with pytest.raises(FrameError):
        decode_frame(data)


def test_a_bad_sum_header_is_a_frame_error() -> None:
    frame = Frame(method=METHOD_DATA, headers={"sum": "three"})
    with pytest.raises(FrameError, match="sum"):
        frame.header_int("sum", 1)


def test_parts_are_joined_in_seq_order_whatever_their_arrival() -> None:
    parts = Reassembler(now=lambda: 0.0)
    assert parts.add("m", 3, 2, b"C") is None
    assert parts.add("m", 3, 0, b"A") is None
    assert parts.add("m", 3, 1, b"B") == b"ABC"
    assert len(parts) == 0
    assert parts.add("single", 1, 0, b"whole") == b"whole"


def test_incomplete_parts_expire() -> None:
    clock = [0.0]
    parts = Reassembler(ttl=5.0, now=lambda: clock[0])
    assert parts.add("m", 2, 0, b"A") is None
    clock[0] = 6.0
    assert parts.add("m", 2, 1, b"B") is None  # the first part expired: still incomplete
    assert len(parts) == 1


def test_a_part_out_of_range_is_refused() -> None:
    with pytest.raises(FrameError):
        Reassembler().add("m", 2, 2, b"x")


def test_client_config_takes_the_servers_valid_values_only() -> None:
    merged = ClientConfig().merged(
        {"PingInterval": 30, "ReconnectCount": 5, "ReconnectNonce": -3, "ReconnectInterval": "x"}
    )
    assert merged == ClientConfig(ping_interval=30.0, reconnect_count=5)
    assert ClientConfig().merged({"PingInterval": 0}).ping_interval == 120.0
    assert ClientConfig().merged(None) == ClientConfig()


def test_endpoint_reply_is_read_and_its_url_kept_out_of_repr() -> None:
    data = {
        "URL": "wss://msg-frontier.example/ws/v2?device_id=d1&service_id=42&ticket=SECRET",
        "ClientConfig": {"PingInterval": 90},
    }
    endpoint = _endpoint(data, ClientConfig(), "cli_x")
    assert (endpoint.device_id, endpoint.service_id) == ("d1", 42)
    assert endpoint.config.ping_interval == 90.0
    assert "SECRET" not in repr(endpoint)


@pytest.mark.parametrize(
    "data",
    [{}, {"URL": "https://x/ws"}, {"URL": "wss://x/ws?device_id=d"}, None],
)
def test_an_endpoint_reply_without_a_usable_url_is_a_server_error(data: object) -> None:
    with pytest.raises(ServerError):
        _endpoint(data, ClientConfig(), "cli_x")


def _refusal(**headers: str) -> InvalidStatus:
    return InvalidStatus(Response(400, "Bad Request", Headers(headers)))


def test_handshake_refusals() -> None:
    forbidden = _handshake_error(_refusal(**{"handshake-status": "403"}), "cli_x")
    too_many = _handshake_error(
        _refusal(**{"handshake-status": "514", "handshake-autherrcode": "1000040350"}), "cli_x"
    )
    other = _handshake_error(_refusal(**{"handshake-status": "514"}), "cli_x")
    assert isinstance(forbidden, AuthError) and forbidden.code == 403
    assert isinstance(too_many, AuthError) and too_many.code == 514
    assert isinstance(other, ServerError) and not isinstance(other, AuthError)


async def test_memory_leases_expire_and_belong_to_their_holder() -> None:
    clock = [0.0]
    leases = InMemoryLeaseStore(now=lambda: clock[0])
    assert await leases.acquire_lease("n", "a", ttl=10)
    assert not await leases.acquire_lease("n", "b", ttl=10)
    await leases.release_lease("n", "b")
    assert await leases.lease_holder("n") == "a"
    clock[0] = 10.0
    assert await leases.lease_holder("n") is None
    assert await leases.acquire_lease("n", "b", ttl=10)
    assert not await leases.acquire_lease("n", "a", ttl=10)
