"""Numbers that matter in a buyer's message: height, weight, order and tracking numbers.

Works on normalised text (half-width, simplified, lower case). Prices (170元, ¥170), dates (1月7日,
2026年), times (17:00), quantities (170件) and phone numbers (11 digits from 1) are never taken
for a height, a weight or an order. A bare 3-digit number counts as a height only next to a weight,
after 身高, or when the bot has just asked for one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIGIT = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN = "零〇一二两三四五六七八九十百"
_NOT_A_MEASURE = r"(?!\s*(?:元|块|件|个|号|年|月|日|天|单|次|%|ml|g\b|w\b|mm|万|:|\.\d|\d))"

_HEIGHT_UNIT = re.compile(r"(?<![\d.¥$])(1[4-9]\d|2[0-2]\d)\s*(?:cm|厘米|公分)")
_HEIGHT_WORD = re.compile(rf"(?:身高|个子|高)\s*[:：]?\s*(1[4-9]\d|2[0-2]\d){_NOT_A_MEASURE}")
_HEIGHT_METRE = re.compile(r"(?<![\d.])1\.([4-9]\d?)\s*(?:m|米)(?![a-z])")
_HEIGHT_MI = re.compile(r"(?<![\d.])1米([4-9]\d?)(?!\d)")
_HEIGHT_CN = re.compile(r"一米([四五六七八九])([零〇一二三四五六七八九])?")
_HEIGHT_BARE = re.compile(rf"(?<![\d.¥$])(1[4-9]\d|2[0-2]\d){_NOT_A_MEASURE}")

_WEIGHT_KG = re.compile(r"(?<![\d.])(\d{2,3}(?:\.\d)?)\s*(?:kg|公斤|千克)")
_WEIGHT_JIN = re.compile(r"(?<![\d.])(\d{2,3}(?:\.\d)?)\s*斤")
_WEIGHT_CN_JIN = re.compile(rf"([{_CN}]{{2,5}})斤")
_WEIGHT_WORD = re.compile(rf"(?:体重|重)\s*[:：]?\s*(\d{{2,3}}){_NOT_A_MEASURE}")
_PAIR = re.compile(
    r"(?<![\d.¥$])(1[4-9]\d|2[0-2]\d)\s*(?:cm)?\s*[/,、 ]\s*(\d{2,3})(?![\d元块件个号年月日斤]|kg|公斤)"
)

_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_ORDER = re.compile(r"(?<![\da-z])\d{12,20}(?![\da-z])")
_TRACKING = re.compile(r"(?<![a-z0-9])((?:sf|yt|jt|jdv|jd|dpk|ems|zto|yd)\d{10,16})(?![\d])")


@dataclass(frozen=True, slots=True, kw_only=True)
class Body:
    height_cm: int | None = None
    weight_kg: float | None = None


def chinese_number(text: str) -> int | None:
    """一百三十 → 130, 九十五 → 95, 一百二 → 120 (spoken short form), 两百 → 200."""
    if not text or any(ch not in _CN for ch in text):
        return None
    total, current = 0, 0
    for i, ch in enumerate(text):
        if ch == "百":
            total += (current or 1) * 100
            current = 0
            if i == len(text) - 2 and text[-1] in _DIGIT:  # 一百二 = 120
                return total + _DIGIT[text[-1]] * 10
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _DIGIT[ch]
    return total + current


def _unitless_weight(value: float) -> float:
    """A weight written without a unit: buyers in China say 斤 for body weight above about 80."""
    return value / 2 if value >= 80 else value


def body(text: str, expecting_height: bool = False) -> Body:
    """Height (cm) and weight (kg) in a message, in the forms buyers use."""
    height: int | None = None
    weight: float | None = None
    if m := _WEIGHT_KG.search(text):
        weight = float(m.group(1))
    elif m := _WEIGHT_JIN.search(text):
        weight = float(m.group(1)) / 2
    elif (m := _WEIGHT_CN_JIN.search(text)) and (jin := chinese_number(m.group(1))):
        weight = jin / 2
    elif m := _WEIGHT_WORD.search(text):
        weight = _unitless_weight(float(m.group(1)))
    if m := _HEIGHT_UNIT.search(text) or _HEIGHT_WORD.search(text):
        height = int(m.group(1))
    elif m := _HEIGHT_METRE.search(text) or _HEIGHT_MI.search(text):
        digits = m.group(1)
        height = 100 + int(digits) * (10 if len(digits) == 1 else 1)
    elif m := _HEIGHT_CN.search(text):
        height = 100 + _DIGIT[m.group(1)] * 10 + (_DIGIT[m.group(2)] if m.group(2) else 0)
    elif m := _PAIR.search(text):
        height = int(m.group(1))
        weight = weight if weight is not None else _unitless_weight(float(m.group(2)))
    elif (weight is not None or expecting_height) and (m := _HEIGHT_BARE.search(_without_weights(text))):
        height = int(m.group(1))
    if weight is not None and not 25 <= weight <= 200:
        weight = None
    return Body(height_cm=height, weight_kg=weight)


def _without_weights(text: str) -> str:
    for pattern in (_WEIGHT_KG, _WEIGHT_JIN, _WEIGHT_WORD):
        text = pattern.sub(" ", text)
    return text


def order_numbers(text: str) -> tuple[str, ...]:
    """Order numbers: 12 to 20 digits (phone numbers are 11 and never count)."""
    return tuple(m.group(0) for m in _ORDER.finditer(_PHONE.sub(" ", text)))


def tracking_numbers(text: str) -> tuple[str, ...]:
    """Tracking numbers with a courier prefix: sf1234567890123, yt…, jdv…, upper-cased."""
    return tuple(m.group(1).upper() for m in _TRACKING.finditer(text))
