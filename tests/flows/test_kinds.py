"""What buyers send that is not text: photos, links, voice and emoji get a fitting reply."""

from collections.abc import Callable

import pytest

from bot import Reply
from bot.model import Action, HandoffReason

Play = Callable[..., list[Reply]]


@pytest.mark.parametrize(
    ("text", "kind", "words"),
    [
        ("[图片]", "image", "图片"),
        ("[视频]", "video", "视频"),
        ("[语音]", "voice", "语音"),
        ("[商品链接]", "link", "链接"),
        ("[表情]", "sticker", "直接问"),
        ("👍👍", "emoji", "直接问"),
    ],
)
def test_a_message_that_is_not_text_is_never_called_empty(
    play: Play, text: str, kind: str, words: str
) -> None:
    """[图片] or 👍 alone gets a reply for what it is, never 「您好像没有输入内容」."""
    (reply,) = play(text)
    assert (kind, Action.CLARIFY) == (reply.kind, reply.action)
    assert words in reply.text
    assert "没有输入内容" not in reply.text


def test_a_photo_after_the_bot_asked_for_one_goes_to_a_person(play: Play) -> None:
    """After a quality answer asks for photos, a photo hands off with the photo as the reason."""
    answer, photo = play("收到的杯子是碎的", "[图片]")
    assert ("quality", Action.ANSWER) == (answer.intent, answer.action)
    assert (Action.HANDOFF, HandoffReason.PHOTO) == (photo.action, photo.reason)
    assert "图片" in photo.text


@pytest.mark.parametrize("text", ["😡😡😡", "🤬", "💢💢 还不发货"])
def test_angry_emoji_count_as_anger(play: Play, text: str) -> None:
    """Emoji anger is anger: an apology and a person, first in the queue."""
    (reply,) = play(text)
    assert (Action.HANDOFF, HandoffReason.ANGRY) == (reply.action, reply.reason)


def test_a_placeholder_with_text_is_answered_for_the_text(play: Play) -> None:
    """[图片] 什么时候发货 is a shipping question with a photo attached."""
    (reply,) = play("[图片] 什么时候发货")
    assert ("shipping_time", Action.ANSWER, "image") == (reply.intent, reply.action, reply.kind)


def test_clarifying_question_offers_numbered_options(play: Play) -> None:
    """Between the thresholds the bot offers its options, and 1 picks the first of them."""
    asked, picked = play("坏了能退吗", "1")
    assert Action.CLARIFY is asked.action
    assert 2 <= len(asked.options) <= 3
    assert [o.intent for o in asked.options][:2] == [c.intent_id for c in asked.candidates][:2]
    assert (asked.options[0].intent, Action.ANSWER) == (picked.intent, picked.action)
