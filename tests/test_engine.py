"""Through the Python face: Bot.from_config(...).reply(session, text) -> Reply."""

import asyncio
import dataclasses
from pathlib import Path

import pytest

from bot import Action, Bot, HandoffReason


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("啥时候发货呀", "shipping_time"),
        ("快递到哪了 三天没更新", "logistics"),
        ("170 65kg穿什么码", "sizing"),
        ("退货运费谁出", "returns"),
        ("券怎么用不了", "coupons"),
        ("能开专票吗", "invoice"),
        ("黑色M码还有货吗", "stock"),
        ("满减怎么算", "promotion"),
        ("收到的杯子是碎的", "quality"),
        ("能用花呗分期吗", "payment"),
        ("在吗", "greeting"),
        ("好的谢谢", "thanks"),
        ("地址写错了能改吗", "address_change"),
        ("能便宜点吗", "bargain"),
    ],
)
def test_answers_common_questions(shipped_bot: Bot, text: str, intent: str) -> None:
    reply = shipped_bot.reply(f"t-{text}", text)
    assert (Action.ANSWER, intent) == (reply.action, reply.intent)
    assert reply.confidence >= shipped_bot.shop.policy.answer_at


def test_answer_uses_shop_facts_from_config(shipped_bot: Bot) -> None:
    """Answers are filled from config.yaml; no {placeholders} reach the buyer."""
    reply = shipped_bot.reply("facts", "退货运费谁出")
    assert shipped_bot.shop.values["shop.return_shipping"] in reply.text
    assert "{" not in reply.text


def test_reply_is_frozen_and_explains_itself(shipped_bot: Bot) -> None:
    reply = shipped_bot.reply("frozen", "能开发票吗")
    with pytest.raises(dataclasses.FrozenInstanceError):
        reply.text = "x"  # type: ignore[misc]
    assert any("发票" in token for token in reply.tokens)
    assert reply.candidates[0].intent_id == "invoice"
    assert {"keyword", "example"} <= {e.kind for e in reply.evidence}
    assert any(e.origin and e.origin.file == "intents/invoice.yaml" for e in reply.evidence)


@pytest.mark.parametrize("text", ["我要转人工", "你是机器人吗", "找真人"])
def test_asking_for_a_person_hands_off(shipped_bot: Bot, text: str) -> None:
    reply = shipped_bot.reply(f"h-{text}", text)
    assert (Action.HANDOFF, HandoffReason.ASKED_FOR_PERSON) == (reply.action, reply.reason)


@pytest.mark.parametrize("text", ["再不处理我就投诉到12315", "你们就是骗子!!!", "垃圾店，给你差评"])
def test_angry_buyer_gets_an_apology_and_a_person(shipped_bot: Bot, text: str) -> None:
    reply = shipped_bot.reply(f"a-{text}", text)
    assert (Action.HANDOFF, HandoffReason.ANGRY) == (reply.action, reply.reason)
    assert "抱歉" in reply.text


def test_calm_question_about_a_bad_review_is_not_anger(shipped_bot: Bot) -> None:
    assert HandoffReason.ANGRY != shipped_bot.reply("calm", "差评怎么改").reason


@pytest.mark.parametrize("text", ["这个手机支持5G吗", "今天天气真好", "你们实体店在哪", "这件是纯棉的吗"])
def test_out_of_scope_is_not_answered_as_nearest_intent(shipped_bot: Bot, text: str) -> None:
    assert Action.ANSWER != shipped_bot.reply(f"o-{text}", text).action


def test_traditional_and_full_width_get_the_same_answer(shipped_bot: Bot) -> None:
    plain = shipped_bot.reply("p", "什么时候发货?")
    variants = [shipped_bot.reply(f"v{i}", t) for i, t in enumerate(["什麼時候發貨？", "什么时候发货？"])]
    assert all((plain.intent, plain.confidence) == (v.intent, v.confidence) for v in variants)


def test_empty_message_asks_for_input_and_is_not_a_miss(shipped_bot: Bot) -> None:
    reply = shipped_bot.reply("empty", "   ")
    assert (Action.CLARIFY, None) == (reply.action, reply.intent)
    assert "没有输入" in reply.text


def test_unclear_twice_goes_to_a_person(repo) -> None:
    """No loop of '没听懂': the second unclear turn in a row hands off."""
    bot = Bot.from_config(repo / "config.yaml")
    first = bot.reply("loop", "坏了能退吗")
    second = bot.reply("loop", "坏了能退吗")
    assert Action.CLARIFY == first.action
    assert (Action.HANDOFF, HandoffReason.REPEATED_MISSES) == (second.action, second.reason)


def test_huge_and_binary_input_never_raises(shipped_bot: Bot) -> None:
    for text in ["发货" * 50_000, "\x00\x01\x02", "\ud800\udc00", "😀" * 1000, "\u202e发货"]:
        reply = shipped_bot.reply("hostile", text)
        assert 0.0 <= reply.confidence <= 1.0


def test_same_turn_same_reply(repo) -> None:
    """Two bots, same session and turn: identical replies (reproducible)."""
    a, b = Bot.from_config(repo / "config.yaml"), Bot.from_config(repo / "config.yaml")
    assert a.reply("s", "什么时候发货") == b.reply("s", "什么时候发货")


def test_clarifying_question_is_answered_by_number(repo) -> None:
    """'回复 1 或 2' works: the buyer's '2' answers with the second intent named."""
    bot = Bot.from_config(repo / "config.yaml")
    question = bot.reply("choose", "坏了能退吗")
    assert Action.CLARIFY == question.action
    second = question.candidates[1].intent_id
    answer = bot.reply("choose", "2")
    assert (Action.ANSWER, second) == (answer.action, answer.intent)


def test_clarifying_question_is_answered_by_name(repo) -> None:
    bot = Bot.from_config(repo / "config.yaml")
    question = bot.reply("choose-name", "坏了能退吗")
    first = question.candidates[0].intent_id
    answer = bot.reply("choose-name", bot.title(first))
    assert (Action.ANSWER, first) == (answer.action, answer.intent)


def test_the_library_call_takes_the_same_turn_path_as_http() -> None:
    """Bot.reply writes the transcript and a ticket, and a handed-off buyer stays with a person."""
    from bot.storage.memory import MemoryStore

    store = MemoryStore()
    bot = Bot.from_config(Path(__file__).resolve().parent.parent / "config.yaml", store)
    handed = bot.reply("lib", "转人工")
    held = bot.reply("lib", "什么时候发货")
    assert (Action.HANDOFF, Action.HUMAN) == (handed.action, held.action)
    assert ["转人工", "什么时候发货"] == [t.message for t in asyncio.run(store.transcript("default", "lib"))]
    assert 1 == len(asyncio.run(store.tickets("default")))


def test_a_word_said_twice_is_one_piece_of_evidence(shipped_bot: Bot) -> None:
    """「看看有没有问题，没有问题就好评」 repeats 有问题 inside 没有问题: saying a word twice adds nothing."""
    _, once, _ = shipped_bot.understand("运费险")
    _, twice, _ = shipped_bot.understand("运费险 运费险")
    assert once[0].intent_id == twice[0].intent_id
    assert once[0].keyword_score == twice[0].keyword_score
