"""Builders for docx blocks, to pass to `DocClient.append_blocks`.

    from lark_service.application.clients.blocks import paragraph, heading, run, bullet, code,
    divider
    blocks = [heading(1, "Report"), paragraph("Status: ", run("green", bold=True)), divider()]

Text arguments are plain strings or `run(...)` elements. Lark expects ``link.url``
percent-encoded, so `run` encodes it. Code languages are Lark's CodeLanguage numbers; the
names below are the common subset of that table (pass the number for any other).
"""

from __future__ import annotations

from urllib.parse import quote

from lark_service.domain.errors import ConfigError
from lark_service.domain.models.docs import (
    BLOCK_BULLET,
    BLOCK_CODE,
    BLOCK_DIVIDER,
    BLOCK_HEADING1,
    BLOCK_IMAGE,
    BLOCK_ORDERED,
    BLOCK_QUOTE,
    BLOCK_TEXT,
    BLOCK_TODO,
    TEXT_FIELDS,
    Block,
    Divider,
    Image,
    Link,
    TextBody,
    TextElement,
    TextElementStyle,
    TextRun,
    TextStyle,
)

CODE_LANGUAGES: dict[str, int] = {
    "plaintext": 1,
    "bash": 7,
    "csharp": 8,
    "c++": 9,
    "c": 10,
    "css": 12,
    "dockerfile": 18,
    "go": 22,
    "html": 24,
    "json": 28,
    "java": 29,
    "javascript": 30,
    "kotlin": 32,
    "markdown": 39,
    "php": 43,
    "python": 49,
    "ruby": 52,
    "rust": 53,
    "sql": 56,
    "shell": 60,
    "swift": 61,
    "typescript": 63,
    "xml": 66,
    "yaml": 67,
    "toml": 75,
}

Inline = str | TextElement


def run(
    content: str,
    *,
    bold: bool = False,
    italic: bool = False,
    strikethrough: bool = False,
    underline: bool = False,
    inline_code: bool = False,
    link: str | None = None,
) -> TextElement:
    """A styled text run; ``link`` is a plain URL (it is percent-encoded for Lark)."""
    style = TextElementStyle(
        bold=bold,
        italic=italic,
        strikethrough=strikethrough,
        underline=underline,
        inline_code=inline_code,
        link=Link(url=quote(link, safe="")) if link else None,
    )
    styled = style != TextElementStyle()
    return TextElement(
        text_run=TextRun(content=content, text_element_style=style if styled else None)
    )


def elements(parts: tuple[Inline, ...] | list[Inline]) -> list[TextElement]:
    """Plain strings and runs as Lark text elements."""
    out: list[TextElement] = []
    for part in parts:
        if isinstance(part, str):
            out.append(TextElement(text_run=TextRun(content=part)))
        elif isinstance(part, TextElement):
            out.append(part)
        else:
            raise ConfigError(f"text parts are str or run(...), not {type(part).__name__}")
    return out


def _text_block(block_type: int, parts: tuple[Inline, ...], style: TextStyle | None) -> Block:
    block = Block(block_type=block_type)
    setattr(block, TEXT_FIELDS[block_type], TextBody(elements=elements(parts), style=style))
    return block


def paragraph(*parts: Inline) -> Block:
    """A text block (block_type 2)."""
    return _text_block(BLOCK_TEXT, parts, None)


def heading(level: int, *parts: Inline) -> Block:
    """A heading of ``level`` 1–9 (block_type 3–11)."""
    if not 1 <= level <= 9:
        raise ConfigError(f"heading level must be 1–9, not {level}")
    return _text_block(BLOCK_HEADING1 + level - 1, parts, None)


def bullet(*parts: Inline) -> Block:
    """A bulleted list item (block_type 12)."""
    return _text_block(BLOCK_BULLET, parts, None)


def ordered(*parts: Inline) -> Block:
    """A numbered list item (block_type 13); Lark numbers consecutive items itself."""
    return _text_block(BLOCK_ORDERED, parts, None)


def code(source: str, *, language: str | int = "plaintext", wrap: bool = False) -> Block:
    """A code block (block_type 14); ``language`` is a name of `CODE_LANGUAGES` or a number."""
    if isinstance(language, str):
        number = CODE_LANGUAGES.get(language.lower())
        if number is None:
            raise ConfigError(
                f"unknown code language {language!r}; use one of {sorted(CODE_LANGUAGES)} "
                "or Lark's CodeLanguage number"
            )
    else:
        number = language
    return _text_block(BLOCK_CODE, (source,), TextStyle(language=number, wrap=wrap or None))


def quote_block(*parts: Inline) -> Block:
    """A quote (block_type 15)."""
    return _text_block(BLOCK_QUOTE, parts, None)


def todo(*parts: Inline, done: bool = False) -> Block:
    """A to-do item (block_type 17) with its done flag."""
    return _text_block(BLOCK_TODO, parts, TextStyle(done=done))


def divider() -> Block:
    """A horizontal rule (block_type 22)."""
    return Block(block_type=BLOCK_DIVIDER, divider=Divider())


def empty_image() -> Block:
    """An image block without media (block_type 27): step 1 of `DocClient.append_image`."""
    return Block(block_type=BLOCK_IMAGE, image=Image())
