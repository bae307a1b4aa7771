"""A fake Lark (Feishu) Open API server for tests, demos and benchmarks.

It reproduces Lark's auth wire format (app/tenant/user tokens, the 30-minute re-issue rule,
marketplace app tickets, OAuth v2 user tokens), Bearer validation, the success and error
envelopes, bot info and a minimal message send, on a controllable clock and with fault
injection. Use ``fake.app`` in-process (``httpx.ASGITransport``) or `serve_in_thread` over
a real socket; ``python -m lark_service.testing.fake_lark`` serves it standalone.
"""

from lark_service.testing.fake_lark.models import (
    FakeApp,
    FakeLarkError,
    FakeRequest,
    FormPart,
    RecordedRequest,
    TokenInfo,
)
from lark_service.testing.fake_lark.runner import RunningServer, serve_in_thread
from lark_service.testing.fake_lark.server import EXTENSIONS, FakeLark, HandlerResult

__all__ = [
    "EXTENSIONS",
    "FakeApp",
    "FakeLark",
    "FakeLarkError",
    "FakeRequest",
    "FormPart",
    "HandlerResult",
    "RecordedRequest",
    "RunningServer",
    "TokenInfo",
    "serve_in_thread",
]
