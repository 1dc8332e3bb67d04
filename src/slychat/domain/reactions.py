"""What a reaction may be: exactly one emoji, as Unicode's emoji data lists them (the
`emoji` package keeps them current): a skin tone, a flag, a keycap or a ZWJ sequence such as
a family is one emoji; two emoji, text, or a lone skin-tone modifier is not."""

from __future__ import annotations

import emoji

_COMPONENT = emoji.STATUS["component"]


def is_one_emoji(text: str) -> bool:
    """`text` is exactly one emoji (one grapheme cluster of Unicode's emoji data), not a
    component that only modifies another (skin tones, hair styles)."""
    data = emoji.EMOJI_DATA.get(text)
    return data is not None and data["status"] != _COMPONENT
