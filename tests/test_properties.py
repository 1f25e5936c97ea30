"""Properties of the whole pipeline (normalise → segment → match → decide), over generated text."""

from __future__ import annotations

import unicodedata

import opencc
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import Bot
from bot.model import Session

BUYER_CHARS = st.text(
    alphabet=st.sampled_from(
        list(
            "发货快递退换尺码券票活动质量付款在吗谢谢人工便宜地址改什么时候能不可以吗呢了的我你亲 ,.?!~0123456789mlxs"
        )
    )
    | st.characters(),
    max_size=60,
)
TO_FULL_WIDTH = {i: i + 0xFEE0 for i in range(0x21, 0x7F)}
TO_TRADITIONAL = opencc.OpenCC("s2t")


@settings(max_examples=150, deadline=None)
@given(text=BUYER_CHARS)
def test_never_raises_and_confidence_is_a_probability(shipped_bot: Bot, text: str) -> None:
    reply, session = shipped_bot.respond(Session(key="p"), text)
    assert 0.0 <= reply.confidence <= 1.0
    assert reply.text
    assert session.turns == 1


@settings(max_examples=100, deadline=None)
@given(text=BUYER_CHARS)
def test_deterministic(shipped_bot: Bot, text: str) -> None:
    first, _ = shipped_bot.respond(Session(key="d"), text, now=1_800_000_000)
    second, _ = shipped_bot.respond(Session(key="d"), text, now=1_800_000_000)
    assert first == second


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("发货快递退换尺码券票在吗亲什么时候能0123456789mlxs?!,.~ ")),
        max_size=30,
    )
)
def test_full_width_and_half_width_are_the_same_message(shipped_bot: Bot, text: str) -> None:
    full = text.translate(TO_FULL_WIDTH)
    assert unicodedata.normalize("NFKC", full) == text or " " in text
    half, _ = shipped_bot.respond(Session(key="w"), text, now=1_800_000_000)
    wide, _ = shipped_bot.respond(Session(key="w"), full, now=1_800_000_000)
    assert (half.intent, half.action, half.confidence) == (wide.intent, wide.action, wide.confidence)


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(
            list("发货快递退换尺码优惠券发票活动质量付款在吗谢谢人工便宜地址改什么时候能不可以吗呢了")
        ),
        max_size=20,
    )
)
def test_simplified_and_traditional_are_the_same_message(shipped_bot: Bot, text: str) -> None:
    simple, _ = shipped_bot.respond(Session(key="t"), text, now=1_800_000_000)
    trad, _ = shipped_bot.respond(Session(key="t"), TO_TRADITIONAL.convert(text), now=1_800_000_000)
    assert (simple.intent, simple.action, simple.confidence) == (trad.intent, trad.action, trad.confidence)
