"""The test kit that ships with lark-service: a fake Lark Open API and ways to reach it.

Not an adapter: nothing in production imports it. Tests, the ``fake-lark`` and ``demo``
commands and embedders' own tests use it; it needs the ``testing`` extra
(``pip install 'lark-service[testing]'``)::

    from lark_service import MessagingClient
    from lark_service.testing import FakeLark, fake_pool

    fake = FakeLark()
    fake.add_app("cli_a", "secret-a")
    async with fake_pool(fake) as pool:  # every call reaches the fake in memory
        await MessagingClient(pool).send_text("oc_chat", "hi")
    assert fake.messages[0]["chat_id"] == "oc_chat"

`InProcessLarkTransport` is the `LarkTransport` port over the fake (give it to
``open_pool(transport=...)``); `serve_in_thread` and ``lark-service fake-lark`` serve the same
fake over a real socket for other processes.
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401  # the fake's only dependency beyond lark-service's own
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "lark_service.testing (the fake Lark server) needs the 'testing' extra: "
        "pip install 'lark-service[testing]'"
    ) from exc

from lark_service.testing.fake_lark import (
    FakeApp,
    FakeLark,
    FakeLarkError,
    FakeRequest,
    RecordedRequest,
    RunningServer,
    serve_in_thread,
)
from lark_service.testing.pool import app_configs, fake_pool
from lark_service.testing.transport import InProcessLarkTransport

__all__ = [
    "FakeApp",
    "FakeLark",
    "FakeLarkError",
    "FakeRequest",
    "InProcessLarkTransport",
    "RecordedRequest",
    "RunningServer",
    "app_configs",
    "fake_pool",
    "serve_in_thread",
]
