"""Normalising buyer text: width, 繁體, emoticons, slang and concepts read the same way everywhere."""

import pytest

from bot.shop import builtin_lexicon
from bot.stages.normalize import Normalizer


@pytest.fixture(scope="module")
def normalize() -> Normalizer:
    return Normalizer(builtin_lexicon()["slang"])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＭＡＸ尺碼？", "max尺码?"),  # full-width → half-width, lower case, 繁→简
        ("請問什麼時候發貨", "请问什么时候发货"),
        ("啥时候发货[微笑]", "什么时候发货"),  # slang, emoticon code
        ("肿么还木有到😡😡", "怎么还没有到"),  # slang, emoji removed
        ("发货了吗？？？！！！", "发货了吗?!"),  # repeated punctuation folded
        ("亲 fh了吗", "亲发货了吗"),  # latin slang as a whole word
        ("发 货", "发货"),  # a space between Chinese characters means nothing
        ("#E-s12 在吗", "在吗"),  # JD emoticon code
        ("a\x00b\u200bc", "a b c"),  # control and zero-width characters
    ],
)
def test_normalise_forms(normalize: Normalizer, raw: str, expected: str) -> None:
    """Buyer spellings are brought to one form that intents are written in."""
    assert expected == normalize(raw)


def test_latin_slang_does_not_touch_longer_numbers(normalize: Normalizer) -> None:
    """'88' means bye-bye alone, but not inside a price like 188元."""
    assert "188元" == normalize("188元")
    assert "拜拜" == normalize("88")


def test_shop_slang_extends_builtin() -> None:
    """A shop's own slang entries apply on top of the built-in map."""
    normalize = Normalizer({**builtin_lexicon()["slang"], "大码": "尺码"})
    assert "有尺码吗,什么时候发货" == normalize("有大码吗，啥时候发货")


def test_lone_surrogates_are_dropped(normalize: Normalizer) -> None:
    """Broken UTF-16 halves never reach the converter."""
    assert "发货" == normalize("发\ud800货")
