"""`bot eval` counts outcomes as a buyer would feel them, and the shipped shop meets its targets."""

import json
from collections import Counter
from pathlib import Path

import pytest
from rapidfuzz import fuzz, process

from bot import Bot
from bot.loading.schema import CORE_INTENTS
from bot.model import Action, HandoffReason, Reply
from bot.runners.evaluate import Labelled, evaluate, half, read_labelled, verdict


def reply(action: Action, intent: str | None, reason: HandoffReason | None = None) -> Reply:
    return Reply(text="", action=action, intent=intent, confidence=0.9, reason=reason, session_id="s", turn=1)


@pytest.mark.parametrize(
    ("label", "alt", "got", "expected"),
    [
        ("invoice", None, reply(Action.ANSWER, "invoice"), "resolved"),
        ("returns", "sizing", reply(Action.ANSWER, "sizing"), "resolved"),
        ("thanks", None, reply(Action.ANSWER, "goodbye"), "resolved"),
        ("invoice", None, reply(Action.ANSWER, "returns"), "wrong"),
        ("other", None, reply(Action.ANSWER, "greeting"), "wrong"),
        ("other", None, reply(Action.HANDOFF, None, HandoffReason.LOW_CONFIDENCE), "deferred"),
        ("invoice", None, reply(Action.CLARIFY, "invoice"), "deferred"),
        ("human", None, reply(Action.HANDOFF, "human", HandoffReason.ASKED_FOR_PERSON), "resolved"),
    ],
)
def test_verdicts(label: str, alt: str | None, got: Reply, expected: str) -> None:
    assert expected == verdict(Labelled(text="x", intent=label, alt=alt, line=1), got)


@pytest.fixture(scope="module")
def dev_rows(repo: Path) -> list[dict]:
    return [
        json.loads(line)
        for line in (repo / "tests" / "data" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    ]


def test_dev_set_is_large_and_balanced(dev_rows: list[dict]) -> None:
    """At least 400 messages, 30 per core intent and 60 out of scope."""
    counts = {intent: sum(r["intent"] == intent for r in dev_rows) for intent in [*CORE_INTENTS, "other"]}
    assert len(dev_rows) >= 400
    assert all(counts[i] >= 30 for i in CORE_INTENTS), counts
    assert counts["other"] >= 60


@pytest.mark.parametrize("name", ["dev.jsonl", "blind.jsonl", "blind-hard.jsonl"])
def test_labelled_sets_do_not_copy_the_intent_examples(repo: Path, shipped_bot: Bot, name: str) -> None:
    """The measurement is honest only if no test message is an example the matcher already knows,
    or one with a word or two changed (edit similarity ≥ 0.9 as spelled, before concepts)."""
    spelled = shipped_bot.shop.normalize.spelled
    examples = [spelled(e.text) for e in shipped_bot.shop.matcher.examples]
    near = [
        (item.text, found[0])
        for item in read_labelled(repo / "tests" / "data" / name)
        if (found := process.extractOne(spelled(item.text), examples, scorer=fuzz.ratio, score_cutoff=90))
    ]
    assert [] == near


def test_the_blind_set_holds_what_the_shop_has_learnt_to_generalise(repo: Path, shipped_bot: Bot) -> None:
    """tests/data/blind.jsonl was written by people who never saw intents/; its other half went into
    intents/ as 问法. It is the repo's own measure of messages the shop has never seen, so these floors
    (the figures when it was written: 71.1% resolved, 3.6% wrong) catch a change that trades
    generalisation for fitting the files we read. Raise them as the shop improves."""
    summary = evaluate(shipped_bot, read_labelled(repo / "tests" / "data" / "blind.jsonl")).to_dict()
    assert summary["n"] >= 1200
    assert summary["resolved"] >= 0.70
    assert summary["wrong"] <= 0.04
    assert summary["topic_right"] >= 0.78


def test_the_hard_blind_set_holds_on_its_unread_half(repo: Path, shipped_bot: Bot) -> None:
    """tests/data/blind-hard.jsonl was written by people who never saw intents/, told to avoid each
    topic's obvious keyword (「钱还没回来」, not 退款进度). Only the failures of its first half were
    read, to widen concepts and keywords, never as 问法; the second half was never read. Floors on
    that half (the figures when it was added: 56.7% resolved, 7.2% wrong) catch a change that fits
    the first half without carrying over. Raise them as the shop improves."""
    items = [i for i in read_labelled(repo / "tests" / "data" / "blind-hard.jsonl") if half(i.text) == "second"]
    summary = evaluate(shipped_bot, items).to_dict()
    assert summary["n"] >= 900
    assert summary["resolved"] >= 0.56
    assert summary["wrong"] <= 0.074


def test_dev_set_labels_the_topics_of_the_shipped_shop(dev_rows: list[dict], shipped_bot: Bot) -> None:
    """800 lines or more; every labelled topic exists, and every shipped topic has at least 3 lines."""
    shipped = {t.id for i in shipped_bot.shop.intents.intents for t in i.topics}
    labelled = Counter(r["topic"] for r in dev_rows if r.get("topic"))
    assert len(dev_rows) >= 800
    assert set(labelled) <= shipped, set(labelled) - shipped
    assert [] == sorted(t for t in shipped if labelled[t] < 3)


def test_shipped_shop_meets_its_targets_on_the_dev_set(repo: Path, shipped_bot: Bot) -> None:
    """resolved ≥ 0.85 of in-scope messages, wrong ≤ 0.04 of all, and answers at ≥ answer_at are
    right at least answer_at of the time (the confidence is calibrated)."""
    report = evaluate(shipped_bot, read_labelled(repo / "tests" / "data" / "dev.jsonl"))
    summary = report.to_dict()
    assert summary["resolved"] >= 0.85
    assert summary["wrong"] <= 0.04
    assert summary["topic_right"] >= 0.8  # the answer fits the sub-question asked
    answers = [o for o in report.outcomes if o.reply.action is Action.ANSWER]
    assert sum(o.verdict == "resolved" for o in answers) / len(answers) >= shipped_bot.shop.policy.answer_at


def test_evaluating_twice_with_one_bot_gives_the_same_result(repo: Path) -> None:
    """Each labelled message is asked in a fresh session: nothing leaks from one evaluation into the next."""
    bot = Bot.from_config(repo / "config.yaml")
    rows = list(read_labelled(repo / "tests" / "data" / "dev.jsonl"))
    assert evaluate(bot, rows).to_dict() == evaluate(bot, rows).to_dict()


def test_topic_labels_are_joined_by_text_hash_and_a_broken_line_says_where(tmp_path: Path) -> None:
    from bot.runners.evaluate import DataError, read_topics, text_key, with_topics

    labels = tmp_path / "topics.jsonl"
    labels.write_text(json.dumps({"sha": text_key("运费谁出"), "topic": "returns.shipping_fee"}) + "\n")
    [item] = with_topics([Labelled(text="运费谁出", intent="returns", alt=None, line=1)], read_topics(labels))
    assert "returns.shipping_fee" == item.topic
    labels.write_text('{"sha": "ab"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"topics.jsonl:1: "):
        read_topics(labels)


def test_keywords_that_mislead_are_named_with_where_they_are_written(mini: Path) -> None:
    """`bot eval --keywords`: a keyword seen where buyers meant something else, more often than its
    weight allows, is listed with its file:line and a lower weight; one that is right is not."""
    from bot.runners.evaluate import keyword_reliability

    bot = Bot.from_config(mini / "config.yaml")
    asked = {"什么时候发货": "shipping_time", "几天能发货": "shipping_time", "发货地址写错了": "other",
             "发货单不要放价格": "other", "发货的箱子破了": "other", "发货那天能拍照吗": "other",
             "转人工": "human", "我要人工": "human", "人工客服在吗": "human"}  # fmt: skip
    items = [Labelled(text=t, intent=i, alt=None, line=n) for n, (t, i) in enumerate(asked.items(), 1)]
    rows = {(r.intent, r.word): r for r in keyword_reliability(bot, items)}
    shipping = rows[("shipping_time", "发货")]
    assert (shipping.seen, shipping.right, shipping.misleads) == (6, 2, True)
    assert (shipping.origin.file.endswith("intents/shipping_time.yaml"), shipping.origin.line) == (True, 8)
    assert 0.45 <= shipping.suggested < shipping.weight == 0.9
    assert not rows[("human", "人工")].misleads
    assert next(iter(rows.values())) is shipping  # the most misleading first
    from click.testing import CliRunner

    from bot.faces.cli import main

    labelled = mini / "asked.jsonl"
    labelled.write_text(
        "".join(json.dumps({"text": t, "intent": i}, ensure_ascii=False) + "\n" for t, i in asked.items())
    )
    shown = CliRunner().invoke(
        main, ["eval", str(labelled), "--keywords", "--config", str(mini / "config.yaml")]
    )
    assert 0 == shown.exit_code, shown.output
    line = next(x for x in shown.output.splitlines() if "发货" in x and "shipping_time" in x)
    assert "0.90" in line and "2/6" in line and line.rstrip().endswith("intents/shipping_time.yaml:8")
