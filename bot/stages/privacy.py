"""Personal data out of a buyer's text before anyone mines, clusters or shows it: phone numbers,
order and tracking numbers, other long numbers, addresses and names, each replaced by a marker
that keeps the sentence readable (「我的订单[订单号]还没发」).

Pure and deterministic; it errs toward masking (a house number lost costs nothing to mining).
"""

from __future__ import annotations

import hashlib
import re

PHONE, ORDER, TRACKING, NUMBER, ADDRESS, NAME = "[电话]", "[订单号]", "[运单号]", "[数字]", "[地址]", "[姓名]"
ID_NUMBER = "[身份证号]"
_ID = r"(?<![\da-z])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![\da-z])"

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # a resident ID: 6 digits of place, the birth date, 3 digits and a check digit (or X)
    (re.compile(_ID, re.I), ID_NUMBER),
    (re.compile(r"(?<![a-z0-9])(?:sf|yt|jt|jdv|jd|dpk|ems|zto|yd)\d{10,16}(?!\d)", re.I), TRACKING),
    (re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"), PHONE),
    (re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)"), PHONE),  # a landline with its area code
    (re.compile(r"(?<![\da-z])\d{12,20}(?![\da-z])", re.I), ORDER),
    (re.compile(r"(?<![\da-z])\d{6,11}(?![\da-z])", re.I), NUMBER),
    # 省/市/区 … 路/号/小区/栋/室: an address, from its first place word to its last
    (
        re.compile(
            r"[\u4e00-\u9fff]{2,8}(?:省|自治区)?[\u4e00-\u9fff]{0,8}(?:市|州|盟)[\u4e00-\u9fff\d]{0,12}"
            r"(?:区|县|镇|乡|街道)[\u4e00-\u9fff\d\-#]{0,24}(?:路|街|巷|道|号|小区|村|栋|幢|单元|室|楼)"
        ),
        ADDRESS,
    ),
    (re.compile(r"[\u4e00-\u9fff\d]{2,12}(?:路|街|巷)\d{1,5}号(?:[\d\-]{1,8}(?:室|楼|栋|单元))?"), ADDRESS),
    (
        re.compile(
            r"(?<=我叫)[\u4e00-\u9fff]{2,3}|(?<=收件人)[:：\s]?[\u4e00-\u9fff]{2,3}|(?<=收货人)[:：\s]?[\u4e00-\u9fff]{2,3}"
        ),
        NAME,
    ),
)


def mask(text: str) -> str:
    """`text` with personal data replaced by markers."""
    for pattern, marker in _RULES:
        text = pattern.sub(marker, text)
    return text


def shown(identifier: str) -> str:
    """An id as a log line may show it: itself, unless it holds personal data (a phone number used
    as a session id), then a short hash that still lets lines of one session be matched up."""
    if mask(identifier) == identifier:
        return identifier
    return "h:" + hashlib.sha256(identifier.encode()).hexdigest()[:12]


__all__ = ["ADDRESS", "ID_NUMBER", "NAME", "NUMBER", "ORDER", "PHONE", "TRACKING", "mask", "shown"]
