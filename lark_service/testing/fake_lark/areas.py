"""The built-in areas of the fake, in registration order (later routes replace earlier ones)."""

from __future__ import annotations

from lark_service.testing.fake_lark import (
    apaas,
    auth,
    bitable,
    bot,
    cards,
    contact,
    control,
    docx,
    drive,
    im,
    sheets,
    ws,
)
from lark_service.testing.fake_lark.server import Register

REGISTER: tuple[Register, ...] = (
    auth.register,
    bot.register,
    control.register,
    im.register,
    contact.register,
    docx.register,
    drive.register,
    sheets.register,
    bitable.register,
    apaas.register,
    ws.register,
    cards.register,
)
