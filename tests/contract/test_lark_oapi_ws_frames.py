"""The long connection's pbbp2 frame, ours against lark-oapi's generated protobuf class.

Here, not with the unit tests: importing lark-oapi takes seconds (its package imports every
API module).
"""

from __future__ import annotations

import pytest
from lark_oapi.ws.pb.pbbp2_pb2 import Frame as SdkFrame

from lark_service.adapters.lark_ws.frames import (
    METHOD_CONTROL,
    METHOD_DATA,
    Frame,
    decode_frame,
    encode_frame,
    ping_frame,
)

pytestmark = pytest.mark.contract


def test_our_frame_is_the_sdks_frame_both_ways() -> None:
    ours = Frame(
        method=METHOD_DATA,
        service=7,
        seq_id=2**40,
        log_id=99,
        headers={"type": "event", "message_id": "m1", "sum": "1", "seq": "0"},
        payload=b'{"schema":"2.0"}',
        payload_type="json",
        log_id_new="log-1",
    )
    sdk = SdkFrame()
    sdk.ParseFromString(encode_frame(ours))
    assert (sdk.SeqID, sdk.LogID, sdk.service, sdk.method) == (2**40, 99, 7, METHOD_DATA)
    assert [(h.key, h.value) for h in sdk.headers] == list(ours.headers.items())
    assert (sdk.payload, sdk.payload_type, sdk.LogIDNew) == (ours.payload, "json", "log-1")
    assert decode_frame(sdk.SerializeToString()) == ours


def test_a_ping_is_a_control_frame_with_the_service_id() -> None:
    sdk = SdkFrame()
    sdk.ParseFromString(encode_frame(ping_frame(1234)))
    assert (sdk.method, sdk.service) == (METHOD_CONTROL, 1234)
    assert [(h.key, h.value) for h in sdk.headers] == [("type", "ping")]
