"""Every ```python block of docs/usage/*.md (and README.md's) runs against the in-process fake.

Blocks of one file run in order in one namespace, with top-level ``await``. The namespace
starts with ``fake`` (the FakeLark), ``credential_pool`` (``fake_pool(fake)`` with apps
``cli_app0`` (default) and ``cli_app1``) and ``chat_id``. A block fenced as
```python no-run is shown but not run.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from lark_service.application import CredentialPool
from lark_service.testing import FakeLark

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs" / "usage").glob("*.md"))
README = ROOT / "README.md"
BLOCK = re.compile(r"^```python\s*\n(.*?)^```", re.S | re.M)

pytestmark = pytest.mark.anyio


def blocks(path: Path) -> list[str]:
    return [m.group(1) for m in BLOCK.finditer(path.read_text(encoding="utf-8"))]


async def run_blocks(name: str, code: list[str], namespace: dict[str, Any]) -> None:
    for n, source in enumerate(code):
        compiled = compile(source, f"{name}[{n}]", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(compiled, namespace)
        if result is not None:
            await result


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
async def test_doc_examples_run(doc: Path, pool: CredentialPool, fake: FakeLark) -> None:
    code = blocks(doc)
    assert code, f"{doc.name} has no runnable example"
    namespace: dict[str, Any] = {"fake": fake, "credential_pool": pool, "chat_id": "oc_docs_chat"}
    await run_blocks(doc.name, code, namespace)


async def test_readme_embedding_example_runs_in_process() -> None:
    # the blocks on the test kit; the one on a fake over HTTP runs in tests/packaging
    code = [block for block in blocks(README) if "lark_service.testing" in block]
    assert code, "README.md has no example on the test kit"
    await run_blocks(README.name, code, {})
