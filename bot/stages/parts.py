"""A message that asks several things → its parts, in the order they were asked.

「什么时候发货，能开发票吗」, 「有货吗 包邮吗」 and the run-on 「有货吗包邮吗」 are two questions each.
Parts are cut from the simplified text, where the spaces buyers type between questions still are
(the normaliser drops a space between two Chinese characters): at punctuation and spaces, after a
question particle followed by more words, and before 另外 / 顺便 / 再问.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[，,。！!？?；;\s~～…]+")
_AFTER_PARTICLE = re.compile(r"(?:(?<=[吗呢嘛])|(?<=[^什怎那这多要干]么))(?=[\u4e00-\u9fff]{2})")
_BEFORE_LEAD = re.compile(r"(?<=[\u4e00-\u9fff])(?=另外|顺便|再问)")
# More pieces than this is a story told in commas, not a list of questions.
MAX_PARTS = 6
# A piece that points back (这个货什么时候能到) asks about what an earlier piece said.
_POINTS_BACK = re.compile(r"这个|那个|这款|那款|这件|那件|它")


def points_back(piece: str) -> bool:
    return _POINTS_BACK.search(piece) is not None


def split(text: str) -> list[str]:
    """The pieces of a message (`Normalizer.simplified`), in order, empty ones left out; [] when it
    has more than MAX_PARTS."""
    pieces = []
    for chunk in _SEPARATORS.split(text):
        for clause in _AFTER_PARTICLE.split(chunk):
            pieces += [p for p in _BEFORE_LEAD.split(clause) if p.strip()]
    return pieces if len(pieces) <= MAX_PARTS else []
