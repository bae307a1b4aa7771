"""Every ```python block of docs/usage/*.md runs against the fake Lark server.

Blocks of one file run in order in one namespace, with top-level ``await``. The namespace
starts with ``fake`` (the FakeLark), ``base_url``, ``credential_pool`` (an open pool with
apps ``cli_app0`` (default) and ``cli_app1``) and ``chat_id``. A block fenced as
```python no-run is shown but not run.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from lark_service.application import CredentialPool
from lark_service.testing.fake_lark import FakeLark

DOCS = sorted((Path(__file__).resolve().parents[2] / "docs" / "usage").glob("*.md"))
BLOCK = re.compile(r"^```python\s*\n(.*?)^```", re.S | re.M)

pytestmark = pytest.mark.anyio


def blocks(path: Path) -> list[str]:
    return [m.group(1) for m in BLOCK.finditer(path.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
async def test_doc_examples_run(doc: Path, pool: CredentialPool, fake: FakeLark, base_url: str):
    code = blocks(doc)
    assert code, f"{doc.name} has no runnable example"
    namespace: dict[str, Any] = {
        "fake": fake,
        "base_url": base_url,
        "credential_pool": pool,
        "chat_id": "oc_docs_chat",
    }
    for n, source in enumerate(code):
        compiled = compile(source, f"{doc.name}[{n}]", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(compiled, namespace)
        if result is not None:
            await result
