"""Topics (知识点): the answer fits the sub-question; concepts (同义词); words typed by sound;
messages that ask two things."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot import Bot, Reply
from bot.loading.schema import CORE_INTENTS
from bot.model import Action, HandoffReason, Session, TurnRecord
from bot.problems import LoadError
from bot.runners.lint import lint
from bot.storage import TurnWrite
from bot.storage.memory import MemoryStore
from bot.storage.sqlite import SQLiteStore

GIFT_WRAP = """\
id: gift_wrap
title: 礼品包装
examples:
  - 能包装一下吗
keywords:
  包装: 0.8
topics:
  - id: card
    title: 写贺卡
    examples:
      - 能帮我写张贺卡吗
      - 可以附一张卡片吗
    keywords:
      贺卡: 0.9
  - id: price
    title: 包装收费吗
    examples:
      - 礼品包装要钱吗
    keywords:
      包装费: 0.95
"""
GIFT_WRAP_ANSWERS = """\
intent: gift_wrap
answers:
  - 亲，可以免费礼品包装哦~
topics:
  card:
    answers:
      - 亲，可以的，把贺卡上要写的话留言给小二就好~
  price:
    answers:
      - 亲，礼品包装是免费的，不另收包装费~
"""


def write(shop: Path, intent: str = GIFT_WRAP, answers: str = GIFT_WRAP_ANSWERS) -> None:
    (shop / "intents" / "gift_wrap.yaml").write_text(intent, encoding="utf-8")
    (shop / "responses" / "gift_wrap.yaml").write_text(answers, encoding="utf-8")


def ask(bot: Bot, text: str) -> Reply:
    reply, _ = bot.respond(Session(key="t"), text, now=1_767_578_400)
    return reply


def codes(shop: Path) -> dict[str, str]:
    return {p.code: str(p.origin) for p in lint(shop / "config.yaml")}


def test_a_topic_gets_its_own_answer_and_the_general_question_the_intent_s(shop: Path) -> None:
    write(shop)
    bot = Bot.from_config(shop / "config.yaml")
    card, general = ask(bot, "能给我写个贺卡吗"), ask(bot, "能包装一下吗")
    assert ("gift_wrap", "gift_wrap.card") == (card.intent, card.topic)
    assert "贺卡上要写的话" in card.text
    assert ("gift_wrap", None) == (general.intent, general.topic)
    assert "免费礼品包装" in general.text


def test_a_topic_without_an_answer_and_an_answer_without_a_topic_are_errors(shop: Path) -> None:
    write(shop, answers=GIFT_WRAP_ANSWERS.replace("  price:", "  prise:"))
    with pytest.raises(LoadError) as caught:
        Bot.from_config(shop / "config.yaml")
    found = {p.code: p for p in caught.value.problems}
    assert "intents/gift_wrap.yaml" in str(found["topic-without-answer"].origin)
    assert "price" in found["topic-without-answer"].fix_zh
    assert "gift_wrap.price" in found["answer-without-topic"].message_zh  # 是不是想写 …？


def test_a_bad_or_repeated_topic_id_is_reported_at_its_line(shop: Path) -> None:
    write(shop, intent=GIFT_WRAP.replace("id: price", "id: card"))
    with pytest.raises(LoadError) as caught:
        Bot.from_config(shop / "config.yaml")
    [twice] = [p for p in caught.value.problems if p.code == "duplicate-topic"]
    assert "intents/gift_wrap.yaml:15" in str(twice.origin)
    write(shop, intent=GIFT_WRAP.replace("id: price", "id: 包装费"))
    with pytest.raises(LoadError) as caught:
        Bot.from_config(shop / "config.yaml")
    assert "bad-topic-id" in {p.code for p in caught.value.problems}


def test_the_shipped_shop_covers_sixty_topics_across_the_core_intents(shipped_bot: Bot) -> None:
    topics = [t for i in shipped_bot.shop.intents.intents if i.id in CORE_INTENTS for t in i.topics]
    assert len(topics) >= 60
    assert all(t.id.startswith(t.id.split(".")[0] + ".") for t in topics)
    templates = shipped_bot.shop.intents.templates
    assert all(t.id in templates[t.id.split(".")[0]].topics for t in topics)


@pytest.mark.parametrize(
    ("text", "topic", "says"),
    [
        ("我想取消订单", "returns.cancel", "取消"),
        ("有赠品吗", "promotion.gift", "礼"),
        ("满减能和券一起用吗", "promotion.full_reduction", "叠加"),
        ("退款一直没到账 都一个礼拜了", "returns.refund_progress", "退"),
        ("退货运费谁出", "returns.shipping_fee", "运费"),
        ("能开专票吗", "invoice.kinds", "专用发票"),
        ("显示签收了但是我没收到", "logistics.signed_not_received", "签收"),
    ],
)
def test_the_answer_fits_the_sub_question(shipped_bot: Bot, text: str, topic: str, says: str) -> None:
    reply = ask(shipped_bot, text)
    assert (Action.ANSWER, topic) == (reply.action, reply.topic), reply.text
    assert says in reply.text


def test_cancelling_an_order_is_not_answered_with_the_return_policy(shipped_bot: Bot) -> None:
    assert "无理由" not in ask(shipped_bot, "我想取消订单").text


# --- concepts -------------------------------------------------------------------------------------


def concepts(shop: Path, text: str) -> None:
    (shop / "concepts" / "extra.yaml").write_text(text, encoding="utf-8")


def test_a_concept_word_matches_a_phrasing_written_with_the_concept_s_name(shop: Path) -> None:
    write(shop)
    before = ask(Bot.from_config(shop / "config.yaml"), "能给我写张祝福卡吗")
    concepts(shop, "concepts:\n  贺卡: [祝福卡, 心意卡]\n")
    bot = Bot.from_config(shop / "config.yaml")
    after = ask(bot, "能给我写张祝福卡吗")
    assert before.topic != "gift_wrap.card"
    assert ("gift_wrap.card", Action.ANSWER) == (after.topic, after.action)
    assert ("concept", "祝福卡→贺卡") in {(e.kind, e.detail) for e in after.evidence}


def test_a_word_in_two_concepts_or_of_one_character_is_an_error(shop: Path) -> None:
    concepts(shop, "concepts:\n  贺卡: [祝福卡]\n  卡片: [祝福卡, 卡]\n")
    with pytest.raises(LoadError) as caught:
        Bot.from_config(shop / "config.yaml")
    found = {p.code: p for p in caught.value.problems}
    assert "concepts/extra.yaml:3" in str(found["concept-word-twice"].origin)
    assert "贺卡" in found["concept-word-twice"].message_zh
    assert "“卡”" in found["concept-word-short"].message_zh


def test_lint_reports_a_concept_nothing_uses_and_one_that_steals_an_example(shop: Path) -> None:
    write(shop)
    concepts(shop, "concepts:\n  无人用过的词: [谁也不说的话]\n")
    assert "concepts/extra.yaml:2" in codes(shop)["concept-unused"]
    # Read as 开张发票, the card phrasing "能帮我写张贺卡吗" meets gift_wrap's negative 发票 and goes to
    # invoice: the concept mixes two meanings.
    write(
        shop, intent=GIFT_WRAP.replace("keywords:\n  包装: 0.8", "keywords:\n  包装: 0.8\nnegatives: [发票]")
    )
    (shop / "concepts" / "ecommerce.yaml").write_text(
        (shop / "concepts" / "ecommerce.yaml").read_text(encoding="utf-8").replace("开张发票, ", ""),
        encoding="utf-8",
    )
    concepts(shop, "concepts:\n  开张发票: [写张贺卡]\n")
    assert "intents/gift_wrap.yaml" in codes(shop)["concept-steals"]


# --- words typed by sound -----------------------------------------------------------------------


def test_a_word_typed_by_sound_is_read_as_the_shop_s_word_only_without_other_evidence(shop: Path) -> None:
    config = shop / "config.yaml"
    assert "能开发飘→能开发票" not in str(
        ask(Bot.from_config(config), "能开发飘吗").evidence
    )  # off by default
    config.write_text(
        config.read_text(encoding="utf-8").replace("sound_alike: false", "sound_alike: true"),
        encoding="utf-8",
    )
    shipped_bot = Bot.from_config(config)
    typo = ask(shipped_bot, "能开发飘吗")
    assert ("invoice", Action.ANSWER) == (typo.intent, typo.action)
    assert ("sound", "能开发飘→能开发票") in {(e.kind, e.detail) for e in typo.evidence}
    plain = ask(shipped_bot, "能开发票吗")
    assert not [e for e in plain.evidence if e.kind == "sound"]


# --- messages that ask two things ---------------------------------------------------------------


def test_two_questions_get_two_answers_in_message_order(shipped_bot: Bot) -> None:
    reply = ask(shipped_bot, "有货吗 包邮吗")
    assert Action.ANSWER is reply.action
    assert [("stock", Action.ANSWER), ("promotion", Action.ANSWER)] == [
        (p.intent, p.action) for p in reply.parts
    ]
    stock, shipping = ask(shipped_bot, "有货吗").text, ask(shipped_bot, "包邮吗").text
    assert reply.text.index(stock.split("\n")[-1][:12]) < reply.text.index(shipping.split("\n")[-1][:12])


def test_when_it_ships_and_an_invoice_are_both_answered(shipped_bot: Bot) -> None:
    """A veto of the whole message (发票 is no shipping question) does not silence its other part."""
    reply = ask(shipped_bot, "什么时候发货 能开发票吗")
    assert {"shipping_time", "invoice"} == {p.intent for p in reply.parts if p.action is Action.ANSWER}
    assert "48小时" in reply.text and "发票" in reply.text


@pytest.mark.parametrize("text", ["你好 什么时候发货", "亲 还没发货吧 帮我把地址改一下", "什么时候发货呀"])
def test_a_greeting_or_a_situation_beside_a_question_is_no_second_question(
    shipped_bot: Bot, text: str
) -> None:
    reply = ask(shipped_bot, text)
    assert Action.ANSWER is reply.action
    assert len([p for p in reply.parts if p.action is Action.ANSWER]) < 2


def test_a_part_that_asks_for_a_person_hands_off_with_the_other_part_in_the_ticket(shipped_bot: Bot) -> None:
    store = MemoryStore()
    bot = Bot(shipped_bot.shop, store)
    reply = bot.reply("two", "什么时候发货 转人工")
    assert (Action.HANDOFF, HandoffReason.ASKED_FOR_PERSON) == (reply.action, reply.reason)
    [ticket] = asyncio.run(store.tickets("default"))
    assert ("什么时候发货",) == ticket.questions


# --- storage ------------------------------------------------------------------------------------


def test_a_database_of_the_version_before_topics_opens_and_keeps_its_turns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE turns (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, turn INTEGER NOT NULL,"
        " at REAL NOT NULL, buyer_id TEXT, shop_id TEXT, message TEXT NOT NULL, reply TEXT NOT NULL,"
        " action TEXT NOT NULL, intent TEXT, confidence REAL NOT NULL, reason TEXT, UNIQUE (session_id, turn));"
        "INSERT INTO turns (session_id, turn, at, message, reply, action, confidence)"
        " VALUES ('s', 1, 1.0, '在吗', '在的', 'answer', 1.0);"
        "CREATE TABLE tickets (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, buyer_id TEXT,"
        " reason TEXT NOT NULL, priority TEXT NOT NULL, status TEXT NOT NULL, created_at REAL NOT NULL,"
        " claimed_by TEXT, claimed_at REAL, closed_at REAL, note TEXT);"
    )
    db.commit()
    db.close()
    store = SQLiteStore(path)
    turn = TurnRecord(session_id="s", turn=2, at=2.0, message="退货运费谁出", reply="…", action=Action.ANSWER,
                      intent="returns", topic="returns.shipping_fee", confidence=0.9)  # fmt: skip
    asyncio.run(store.record(TurnWrite(turn=turn, session=Session(key="s", turns=2))))
    assert [None, "returns.shipping_fee"] == [t.topic for t in asyncio.run(store.transcript("default", "s"))]
