"""Invitations to move to a messenger and the handles that go with them: "whatsapp me",
"add me on telegram", "my insta is @shop_girl", "snap: johnny.b", "escríbeme por
WhatsApp", "加我微信". A brand named for itself ("does it work with WhatsApp?") is not one.
"""

from __future__ import annotations

import re

from slychat.moderation.keywords import alternatives
from slychat.moderation.normalize import fold

BRANDS = (
    "whatsapp whats app whatsap watsapp watsap wassap wsp wapp zap zapzap telegram telegramm"
    " telega tg signal viber wechat weixin kakaotalk kakao instagram insta ig snapchat snap"
    " facebook fb messenger tiktok discord skype kik threads line venmo cashapp revolut"
    " ватсап вотсап ватсапп телеграм телеграмм телеге телега вайбер инстаграм инста вк"
    " واتساب واتس تلغرام تليجرام تيليجرام انستا انستقرام سناب"
)
# Brands that are also everyday words ("my line is busy", "signal - 5 bars") count only in
# an invitation ("add me on line") or before an @handle.
_EVERYDAY = frozenset(["line", "signal", "threads", "snap", "messenger", "zap", "tg"])


_BRAND = alternatives(BRANDS.split())
_NAMED_BRAND = alternatives([b for b in BRANDS.split() if b not in _EVERYDAY])
# "<brand> me": only brands that are also verbs in chat ("signal me" and "line me" are not).
_BRAND_VERBS = (
    "(?:whats ?app|whatsap|watsapp|telegram|viber|wechat|snap(?:chat)?|skype|kik|insta|ig|dm)"
)
_VERB = (
    r"(?:add|find|follow|message|msg|text|dm|pm|contact|reach|ping|write(?: to)?|chat with"
    r"|talk to|call|catch|hit|hmu|join)"
)
_ME_ON = rf"{_VERB}\s+(?:me|us)(?:\s+up)?\s+(?:on|at|in|via|through|over|by)\s+"
_INVITATIONS = [
    rf"{_ME_ON}{_BRAND}",
    rf"{_BRAND_VERBS}\s+(?:me|us)\b",
    # "let's continue on whatsapp", "move this to telegram".
    rf"(?:let'?s\s+)?(?:talk|chat|continue|move|switch|go|text|write)"
    rf"(?:\s+(?:this|it|there|more))?\s+(?:on|to|via|over|in)\s+{_NAMED_BRAND}",
    rf"(?:my|our)\s+{_NAMED_BRAND}(?:\s+(?:id|handle|name|username|user|account|number|no|acc))?",
    # Spanish, French, German, Portuguese, Italian, Russian, Arabic.
    rf"(?:agr[eé]game|escr[ií]beme|h[aá]blame|ll[aá]mame|b[uú]scame|s[ií]gueme|mand[aá]me)"
    rf"\s+(?:un\s+mensaje\s+)?(?:en|al|por|a|por\s+el)\s+{_BRAND}",
    rf"mi\s+{_NAMED_BRAND}",
    rf"(?:[ée]cri[st]|ajoute|contacte|appelle)[- ]moi\s+(?:sur|par|via|en)\s+{_BRAND}",
    rf"mon\s+{_NAMED_BRAND}",
    rf"(?:schreib(?:e|t)?|adde?|kontaktier(?:e|t)?)\s+(?:mir|mich|uns)"
    rf"\s+(?:auf|bei|per|über|ueber|via|in)\s+{_BRAND}",
    rf"mein\s+{_NAMED_BRAND}",
    rf"(?:me\s+)?(?:chama|chame|manda|add|adiciona|adicione)\s+(?:(?:me|mensagem)\s+)?(?:no|na|pelo|pelo\s+o)\s+{_BRAND}",
    rf"(?:meu|minha)\s+{_NAMED_BRAND}",
    rf"(?:scrivimi|aggiungimi|contattami|chiamami)\s+(?:su|via|per|in)\s+{_BRAND}",
    rf"(?:напиши(?:те)?|добавь(?:те)?|пиши(?:те)?|стучи(?:те)?)\s+(?:мне\s+|меня\s+)?(?:в|на)\s+{_BRAND}",
    rf"мой\s+{_NAMED_BRAND}",
    rf"(?:راسلني|كلمني|ضيفني|اضفني|أضفني)\s+(?:على|ع|في|عبر)\s+{_BRAND}",
    r"(?:加我|我的)\s*(?:微信|vx|wx|v信|qq|line|ライン)",
]
# What follows an invitation: its handle, after "is", ":", "-" or as an @name or a name
# with digits, dots or underscores in it.
# A handle: letters, digits, dots, dashes, underscores, and a scheme-like prefix such as
# Skype's "live:".
_NAME = r"[\w.\-]{2,40}(?::[\w.\-]{2,40})?"
_HANDLE = (
    rf"(?:\s*(?:[:=\-–]|is|es|est|ist|é|e|c'est|это|هو)\s*@?{_NAME}"
    rf"|\s+@{_NAME}|\s+(?=[\w.\-]*[\d_.]){_NAME}(?<!\.))?"
)
_INVITATION = re.compile(
    r"(?<![\w@])(?:" + "|".join(_INVITATIONS) + r")(?![\w])" + _HANDLE, re.IGNORECASE
)
# A brand and its handle: "insta: @shop_girl", "telegram - johnny_b", "IG @shop".
_BRAND_HANDLE = re.compile(
    rf"(?<![\w@])(?:{_NAMED_BRAND}\s*[:=\-–]\s*@?[\w.\-]{{2,40}}|{_BRAND}\s*@[\w.\-]{{2,40}})",
    re.IGNORECASE,
)
BRAND_WORDS = frozenset(fold(word) for word in BRANDS.split()) | {"whats", "add", "dm"}


_WINDOW_WORDS = BRAND_WORDS - {"add"}
_LETTERS = re.compile(r"[^\W\d_]+")
_CJK = re.compile("微信|加我|我的|ライン")
# Invitations are read only this close to a messenger's name: "hit me up on snapchat".
_REACH = 80


def _windows(text: str) -> list[tuple[int, int]]:
    lowered = text.lower()
    near = [m.start() for m in _LETTERS.finditer(lowered) if m.group() in _WINDOW_WORDS]
    near += [m.start() for m in _CJK.finditer(text)]
    windows: list[tuple[int, int]] = []
    for at in sorted(near):
        start, end = max(0, at - _REACH), min(len(text), at + _REACH)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


def find_messengers(text: str) -> list[tuple[int, int]]:
    """Spans of messenger invitations and handles in normalised `text`."""
    spans: set[tuple[int, int]] = set()
    for window in _windows(text):
        spans.update(m.span() for m in _INVITATION.finditer(text, *window))
        spans.update(m.span() for m in _BRAND_HANDLE.finditer(text, *window))
    return [(start, _trim_handle(text, start, end)) for start, end in sorted(spans)]


def _trim_handle(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in ".-":
        end -= 1
    return end
