"""What a chat platform inserts instead of text ([图片], [商品链接]): found and taken out of the message."""

from __future__ import annotations

import re
from collections.abc import Mapping


class Placeholders:
    """config.yaml `language.placeholders`: placeholder → kind of message (image, link…)."""

    def __init__(self, kinds: Mapping[str, str]) -> None:
        self._kinds = {k.lower(): v for k, v in kinds.items() if k}
        alternatives = sorted(self._kinds, key=len, reverse=True)
        self._re = re.compile("|".join(map(re.escape, alternatives)), re.I) if alternatives else None

    def split(self, raw: str) -> tuple[str, str | None]:
        """The message without placeholders, and the kind of the first one (None: there was none)."""
        if self._re is None:
            return raw, None
        found = self._re.search(raw)
        if found is None:
            return raw, None
        return self._re.sub(" ", raw), self._kinds[found.group(0).lower()]
