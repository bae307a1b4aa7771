"""`PostBuilder`: Lark rich-text (``msg_type="post"``) content without hand-written JSON.

The built content is ``{"zh_cn": {"title", "content": [[run, ...], ...]}, "en_us": ...}``:
one entry per language, each a title and paragraphs of runs. There is no outer ``"post"``
key (that was the legacy v4 shape). Runs are ``text``, ``a`` (link), ``at`` (mention;
``user_id="all"`` mentions everyone) and ``img``; styles are Lark's ``bold``, ``italic``,
``underline`` and ``lineThrough``.
"""

from __future__ import annotations

from typing import Any

from lark_service.domain.errors import ConfigError

POST_LANGUAGES = ("zh_cn", "en_us", "ja_jp")


class PostBuilder:
    """Builds post content; every run method returns the builder for chaining.

    ``PostBuilder("Title").text("Hi ").text("there", bold=True).paragraph().link(...)``.
    Runs go to the current paragraph of the current language; `paragraph` starts a new
    paragraph, `lang` switches (or adds) a language.
    """

    def __init__(self, title: str = "", *, lang: str = "zh_cn") -> None:
        self._langs: dict[str, dict[str, Any]] = {}
        self._current = ""
        self.lang(lang, title=title)

    def lang(self, lang: str, *, title: str | None = None) -> PostBuilder:
        """Switch to ``lang`` (zh_cn, en_us or ja_jp), creating it with ``title``."""
        if lang not in POST_LANGUAGES:
            raise ConfigError(f"post language must be one of {POST_LANGUAGES}, not {lang!r}")
        body = self._langs.setdefault(lang, {"title": "", "content": [[]]})
        if title is not None:
            body["title"] = title
        self._current = lang
        return self

    def title(self, title: str) -> PostBuilder:
        """Set the current language's title."""
        self._langs[self._current]["title"] = title
        return self

    def paragraph(self) -> PostBuilder:
        """Start a new paragraph (a line break in the rendered post)."""
        content = self._langs[self._current]["content"]
        if content[-1]:
            content.append([])
        return self

    def text(
        self,
        text: str,
        *,
        bold: bool = False,
        italic: bool = False,
        underline: bool = False,
        strikethrough: bool = False,
    ) -> PostBuilder:
        """A text run with optional styles."""
        run: dict[str, Any] = {"tag": "text", "text": text}
        return self._add(run, bold, italic, underline, strikethrough)

    def link(
        self,
        text: str,
        href: str,
        *,
        bold: bool = False,
        italic: bool = False,
        underline: bool = False,
        strikethrough: bool = False,
    ) -> PostBuilder:
        """A hyperlink run (``a`` tag)."""
        if not href:
            raise ConfigError("a post link needs an href")
        run: dict[str, Any] = {"tag": "a", "text": text, "href": href}
        return self._add(run, bold, italic, underline, strikethrough)

    def at(self, user_id: str, *, bold: bool = False) -> PostBuilder:
        """Mention a user by open_id (``ou_…``) or everyone with ``"all"``."""
        if not user_id:
            raise ConfigError("a post mention needs a user_id (or 'all')")
        return self._add({"tag": "at", "user_id": user_id}, bold, False, False, False)

    def at_all(self) -> PostBuilder:
        """Mention everyone in the chat."""
        return self.at("all")

    def image(self, image_key: str) -> PostBuilder:
        """An uploaded image (see `MessagingClient.upload_image`)."""
        if not image_key:
            raise ConfigError("a post image needs an image_key")
        self._langs[self._current]["content"][-1].append({"tag": "img", "image_key": image_key})
        return self

    def build(self) -> dict[str, Any]:
        """The content dict (send it with `MessagingClient.send_post`)."""
        out: dict[str, Any] = {}
        for lang, body in self._langs.items():
            paragraphs = [list(p) for p in body["content"] if p]
            out[lang] = {"title": body["title"], "content": paragraphs}
        return out

    def _add(
        self, run: dict[str, Any], bold: bool, italic: bool, underline: bool, strike: bool
    ) -> PostBuilder:
        style = [
            name
            for name, on in (
                ("bold", bold),
                ("italic", italic),
                ("underline", underline),
                ("lineThrough", strike),
            )
            if on
        ]
        if style:
            run["style"] = style
        self._langs[self._current]["content"][-1].append(run)
        return self
