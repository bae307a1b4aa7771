"""`CardBuilder`: interactive message cards (``msg_type="interactive"``) in the v1 JSON shape.

The built card is ``{"config": {"wide_screen_mode", "enable_forward"}, "header": {"title":
{"tag": "plain_text", "content"}, "template"}, "elements": [...]}``. Elements: ``markdown``
(``lark_md`` syntax), ``div`` with ``plain_text``, ``hr``, ``div`` with ``fields`` (short
fields render side by side in two columns), ``action`` holding buttons (consecutive
`CardBuilder.button` calls share one action row) and ``note``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lark_service.domain.errors import ConfigError

HEADER_TEMPLATES = frozenset(
    {
        "blue",
        "wathet",
        "turquoise",
        "green",
        "yellow",
        "orange",
        "red",
        "carmine",
        "violet",
        "purple",
        "indigo",
        "grey",
        "default",
    }
)
BUTTON_TYPES = frozenset({"default", "primary", "danger"})


class CardBuilder:
    """Builds a card; every element method returns the builder for chaining."""

    def __init__(self, *, wide_screen: bool = True, enable_forward: bool = True) -> None:
        self._config = {"wide_screen_mode": wide_screen, "enable_forward": enable_forward}
        self._header: dict[str, Any] | None = None
        self._elements: list[dict[str, Any]] = []

    def header(self, title: str, *, template: str = "blue") -> CardBuilder:
        """The title bar; ``template`` is its colour (blue, green, red, grey, ...)."""
        if template not in HEADER_TEMPLATES:
            raise ConfigError(f"card header template must be one of {sorted(HEADER_TEMPLATES)}")
        self._header = {"title": {"tag": "plain_text", "content": title}, "template": template}
        return self

    def markdown(self, content: str) -> CardBuilder:
        """A block of Lark markdown (``**bold**``, links, ``<at id=ou_x></at>``)."""
        self._elements.append({"tag": "markdown", "content": content})
        return self

    def text(self, content: str) -> CardBuilder:
        """A block of plain text."""
        self._elements.append({"tag": "div", "text": {"tag": "plain_text", "content": content}})
        return self

    def divider(self) -> CardBuilder:
        """A horizontal rule."""
        self._elements.append({"tag": "hr"})
        return self

    def fields(self, pairs: Iterable[tuple[str, str]], *, short: bool = True) -> CardBuilder:
        """Label/value fields; ``short`` fields sit two per row."""
        items = [
            {"is_short": short, "text": {"tag": "lark_md", "content": f"**{label}**\n{value}"}}
            for label, value in pairs
        ]
        if not items:
            raise ConfigError("card fields need at least one (label, value) pair")
        self._elements.append({"tag": "div", "fields": items})
        return self

    def button(
        self,
        text: str,
        *,
        url: str | None = None,
        value: dict[str, Any] | None = None,
        type: str = "default",  # Lark's own field name
    ) -> CardBuilder:
        """A button opening ``url`` or sending ``value`` to the card callback."""
        if (url is None) == (value is None):
            raise ConfigError("a card button needs exactly one of url= or value=")
        if type not in BUTTON_TYPES:
            raise ConfigError(f"button type must be one of {sorted(BUTTON_TYPES)}")
        button: dict[str, Any] = {
            "tag": "button",
            "text": {"tag": "plain_text", "content": text},
            "type": type,
        }
        if url is not None:
            button["url"] = url
        else:
            button["value"] = value
        last = self._elements[-1] if self._elements else None
        if last is not None and last["tag"] == "action":
            last["actions"].append(button)
        else:
            self._elements.append({"tag": "action", "actions": [button]})
        return self

    def note(self, content: str) -> CardBuilder:
        """Small grey footer text."""
        self._elements.append(
            {"tag": "note", "elements": [{"tag": "plain_text", "content": content}]}
        )
        return self

    def element(self, element: dict[str, Any]) -> CardBuilder:
        """Any other v1 element as Lark's JSON (an escape hatch)."""
        if "tag" not in element:
            raise ConfigError("a card element needs a 'tag'")
        self._elements.append(element)
        return self

    def build(self) -> dict[str, Any]:
        """The card dict (send it with `MessagingClient.send_card`)."""
        card: dict[str, Any] = {"config": dict(self._config)}
        if self._header is not None:
            card["header"] = self._header
        card["elements"] = [dict(e) for e in self._elements]
        return card


def template_card(template_id: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Content of a card built in Lark's card builder tool and referenced by id."""
    if not template_id:
        raise ConfigError("template_id is empty")
    data: dict[str, Any] = {"template_id": template_id}
    if variables:
        data["template_variable"] = variables
    return {"type": "template", "data": data}
