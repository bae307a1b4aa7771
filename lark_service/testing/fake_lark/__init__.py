"""A fake Lark (Feishu) Open API server for tests, demos and benchmarks.

It reproduces Lark's auth wire format (app/tenant/user tokens, the 30-minute re-issue rule,
marketplace app tickets, OAuth v2 user tokens), Bearer validation, the success and error
envelopes and the im, contact, docx, drive, Sheets, Bitable and aPaaS areas, on a controllable
clock and with fault injection. Reach it in process with
`lark_service.testing.InProcessLarkTransport` / `fake_pool` (or ``httpx.ASGITransport`` on
``fake.app``), over a real socket with `serve_in_thread`; ``python -m
lark_service.testing.fake_lark`` serves it standalone.
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
