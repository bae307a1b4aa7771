"""Lark's long-connection frame: the protobuf message ``pbbp2.Frame``, and `Frame`, our view.

The schema (lark-api-reference.md §7, "Long connection"), proto2::

    message Header { required string key = 1; required string value = 2; }
    message Frame {
        required uint64 SeqID = 1;  required uint64 LogID = 2;
        required int32 service = 3; required int32 method = 4;   // 0 control, 1 data
        repeated Header headers = 5;
        optional string payload_encoding = 6; optional string payload_type = 7;
        optional bytes payload = 8;           optional string LogIDNew = 9;
    }

The descriptor is declared here with ``descriptor_pb2`` in a private descriptor pool (no
``protoc`` step, no clash with another copy of ``pbbp2`` in the default pool, such as
lark-oapi's); the ``protobuf`` runtime does the wire encoding. The rest of the package sees
only `Frame`, a plain dataclass, through `encode_frame` and `decode_frame`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, EncodeError

from lark_service.domain.errors import TransportError

__all__ = [
    "HEADER_BIZ_RT",
    "HEADER_MESSAGE_ID",
    "HEADER_SEQ",
    "HEADER_SUM",
    "HEADER_TRACE_ID",
    "HEADER_TYPE",
    "METHOD_CONTROL",
    "METHOD_DATA",
    "TYPE_CARD",
    "TYPE_EVENT",
    "TYPE_PING",
    "TYPE_PONG",
    "Frame",
    "FrameError",
    "decode_frame",
    "encode_frame",
    "ping_frame",
]

METHOD_CONTROL: Final = 0
METHOD_DATA: Final = 1

HEADER_TYPE: Final = "type"
HEADER_MESSAGE_ID: Final = "message_id"
HEADER_SUM: Final = "sum"
HEADER_SEQ: Final = "seq"
HEADER_TRACE_ID: Final = "trace_id"
HEADER_BIZ_RT: Final = "biz_rt"

TYPE_EVENT: Final = "event"
TYPE_CARD: Final = "card"
TYPE_PING: Final = "ping"
TYPE_PONG: Final = "pong"


class FrameError(TransportError):
    """A binary message on the long connection is not a ``pbbp2.Frame``."""


@dataclass(slots=True)
class Frame:
    """One frame of the long connection. ``headers`` keeps Lark's order (a key once)."""

    method: int
    service: int = 0
    seq_id: int = 0
    log_id: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    payload: bytes = b""
    payload_encoding: str = ""
    payload_type: str = ""
    log_id_new: str = ""

    @property
    def type(self) -> str:
        """The ``type`` header: event, card, ping or pong ("" when missing)."""
        return self.headers.get(HEADER_TYPE, "")

    def header_int(self, key: str, default: int) -> int:
        """A numeric header (``sum``, ``seq``); ``FrameError`` when it is not a number."""
        value = self.headers.get(key)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise FrameError(f"long connection: header {key} is not a number") from None


def ping_frame(service_id: int) -> Frame:
    """The heartbeat the client sends every ``PingInterval``."""
    return Frame(method=METHOD_CONTROL, service=service_id, headers={HEADER_TYPE: TYPE_PING})


def _schema() -> Any:
    f = descriptor_pb2.FieldDescriptorProto
    required, optional, repeated = f.LABEL_REQUIRED, f.LABEL_OPTIONAL, f.LABEL_REPEATED
    proto = descriptor_pb2.FileDescriptorProto(
        name="lark_service/pbbp2.proto", package="pbbp2", syntax="proto2"
    )
    header = proto.message_type.add(name="Header")
    header.field.add(name="key", number=1, type=f.TYPE_STRING, label=required)
    header.field.add(name="value", number=2, type=f.TYPE_STRING, label=required)
    frame = proto.message_type.add(name="Frame")
    for name, number, kind, label in (
        ("SeqID", 1, f.TYPE_UINT64, required),
        ("LogID", 2, f.TYPE_UINT64, required),
        ("service", 3, f.TYPE_INT32, required),
        ("method", 4, f.TYPE_INT32, required),
        ("payload_encoding", 6, f.TYPE_STRING, optional),
        ("payload_type", 7, f.TYPE_STRING, optional),
        ("payload", 8, f.TYPE_BYTES, optional),
        ("LogIDNew", 9, f.TYPE_STRING, optional),
    ):
        frame.field.add(name=name, number=number, type=kind, label=label)
    frame.field.add(
        name="headers", number=5, type=f.TYPE_MESSAGE, label=repeated, type_name=".pbbp2.Header"
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("pbbp2.Frame"))


_FrameMessage: Final = _schema()


def encode_frame(frame: Frame) -> bytes:
    """The frame's protobuf bytes."""
    msg = _FrameMessage(
        SeqID=frame.seq_id,
        LogID=frame.log_id,
        service=frame.service,
        method=frame.method,
        headers=[{"key": k, "value": v} for k, v in frame.headers.items()],
        payload=frame.payload,
    )
    # optional strings are left unset when empty, as Lark's SDKs do
    for name, value in (
        ("payload_encoding", frame.payload_encoding),
        ("payload_type", frame.payload_type),
        ("LogIDNew", frame.log_id_new),
    ):
        if value:
            setattr(msg, name, value)
    try:
        data: bytes = msg.SerializeToString()
    except (EncodeError, ValueError) as exc:
        raise FrameError(f"long connection: cannot encode a frame: {exc}") from None
    return data


def decode_frame(data: bytes) -> Frame:
    """Parse a binary WebSocket message; ``FrameError`` when it is not a ``pbbp2.Frame``."""
    msg = _FrameMessage()
    try:
        msg.ParseFromString(data)
    except (DecodeError, ValueError) as exc:
        raise FrameError(f"long connection: not a pbbp2.Frame: {exc}") from None
    if not msg.IsInitialized():
        raise FrameError("long connection: a pbbp2.Frame without its required fields")
    return Frame(
        method=msg.method,
        service=msg.service,
        seq_id=msg.SeqID,
        log_id=msg.LogID,
        headers={h.key: h.value for h in msg.headers},
        payload=msg.payload,
        payload_encoding=msg.payload_encoding,
        payload_type=msg.payload_type,
        log_id_new=msg.LogIDNew,
    )
