"""Does a text ask something, rather than tell the situation?

A question particle or mark, a question word, an A-not-A form (有没有, 包不包), or a modal at the
start (能…, 可以…). 「还没发货吧」, 「已经付款了」 and 「那我先收藏了」 tell; 「有货吗」, 「包不包邮」,
「能叠加吗」 and 「发了没」 ask.
"""

from __future__ import annotations

import re

_ASKS = re.compile(
    r"[吗嘛么呢?？]|什么|怎么|怎样|咋|多久|多少|多长|多大|(?<![没好十])几|哪|谁|啥|是否|能否|可否"
    r"|([\u4e00-\u9fff])[不没]\1|[没不]$|了没|^(能|可以|可否|会不会)"
)


def asks(text: str) -> bool:
    return _ASKS.search(text) is not None
