"""Every public client method takes ``app_id=`` keyword-only and is documented."""

from __future__ import annotations

import inspect

import pytest

from lark_service.application import ContactClient, DocClient, MessagingClient, WorkspaceTableClient

NOT_CALLS = {"aclose", "resolve_app", "invalidate_cache"}


def public_methods(cls: type) -> list[str]:
    return [
        name
        for name, _ in inspect.getmembers(cls, predicate=inspect.isfunction)
        if not name.startswith("_") and name not in NOT_CALLS
    ]


@pytest.mark.parametrize("cls", [MessagingClient, ContactClient, DocClient, WorkspaceTableClient])
def test_every_method_takes_app_id_keyword_only_and_has_a_docstring(cls: type) -> None:
    methods = public_methods(cls)
    assert len(methods) >= 10
    for name in methods:
        fn = getattr(cls, name)
        param = inspect.signature(fn).parameters.get("app_id")
        assert param is not None and param.kind is inspect.Parameter.KEYWORD_ONLY, name
        assert param.default is None, name
        assert (fn.__doc__ or "").strip(), name


def test_naming_follows_lark_terms() -> None:
    prefixes = (
        "get_",
        "iter_",
        "list_",
        "create_",
        "update_",
        "delete_",
        "batch_",
        "send_",
        "upload_",
        "download_",
        "reply_",
        "recall_",
        "append_",
        "grant_",
        "revoke_",
        "read_",
        "write_",
        "search_",
        "insert_",
        "upsert_",
        "execute_",
        "query_",
    )
    for cls in (MessagingClient, ContactClient, DocClient, WorkspaceTableClient):
        odd = [n for n in public_methods(cls) if not n.startswith(prefixes)]
        assert odd == [], (cls.__name__, odd)
