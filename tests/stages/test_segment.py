"""Segmenting with each shop's own tokenizer over jieba's shared dictionary."""

from pathlib import Path

import jieba
import pytest

from bot.shop import builtin_lexicon
from bot.stages import segment
from bot.stages.segment import Segmenter


def test_domain_words_stay_whole() -> None:
    """Shipped shop words (七天无理由, 运费险, 电子发票) are single tokens."""
    lexicon = builtin_lexicon()
    segment = Segmenter(lexicon["words"], lexicon["stopwords"])
    words = [t.text for t in segment("支持七天无理由吗有运费险吗能开电子发票吗")]
    assert {"七天无理由", "运费险", "电子发票"} <= set(words)


def test_tokens_carry_positions_and_skip_punctuation() -> None:
    """Tokens point back into the text and punctuation is not a token."""
    segment = Segmenter([], [])
    text = "发货了吗?"
    tokens = segment(text)
    assert all(text[t.start : t.end] == t.text for t in tokens)
    assert "?" not in [t.text for t in tokens]


def test_own_tokenizer_leaves_global_jieba_alone() -> None:
    """A shop's words go to its own tokenizer, not to jieba's global dictionary."""
    Segmenter(["店小二专属词"], [])
    assert "店小二专属词" not in jieba.dt.FREQ


def test_stopwords_are_not_content() -> None:
    segment = Segmenter([], ["亲", "吗"])
    assert ["发货"] == [t.text for t in segment.content(segment("亲发货吗"))]


def test_dictionary_cache_is_built_read_and_rebuilt_when_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start reads jieba's dictionary from our cache; a damaged cache is rebuilt, not a crash."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(segment, "_BASE", None)
    reference, total = segment._base_dictionary()  # built from jieba's own files, and cached
    for damage in (None, b"not a cache", b""):
        monkeypatch.setattr(segment, "_BASE", None)
        (cache,) = (tmp_path / "dianxiaoer").iterdir()
        if damage is not None:
            cache.write_bytes(damage)
        freq, again = segment._base_dictionary()
        assert (reference, total) == (freq, again)
        assert freq is not reference


def test_shops_share_jiebas_dictionary_but_not_their_words() -> None:
    """Two shops' tokenizers read one copy of jieba's dictionary; a word one shop adds stays its own."""
    base, _ = segment._base_dictionary()
    size = len(base)
    tea, shoes = Segmenter(["碧螺春新茶"], []), Segmenter([], [])
    assert ["碧螺春新茶"] == [t.text for t in tea("碧螺春新茶")]
    assert ["碧螺春新茶"] != [t.text for t in shoes("碧螺春新茶")]
    assert size == len(base)  # nothing written into the shared dictionary
    assert tea._tokenizer.FREQ._base is shoes._tokenizer.FREQ._base is base
