"""Broken shop files give every problem with file:line:column, in Chinese then English, and load nothing."""

from pathlib import Path

import pytest

from bot import Bot, LoadError
from bot.shop import load_shop


def load_problems(shop: Path) -> list:
    with pytest.raises(LoadError) as caught:
        Bot.from_config(shop / "config.yaml")
    return list(caught.value.problems)


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_unquoted_no_is_reported_as_not_text(shop: Path) -> None:
    replace(shop / "intents" / "greeting.yaml", "  - 你好\n", "  - no\n")
    [p] = load_problems(shop)
    assert ("yaml-reads-otherwise", "intents/greeting.yaml:6:5") == (p.code, str(p.origin))
    assert '"no"' in p.fix_zh
    assert "false" in p.message_en


def test_misspelt_key_gets_a_suggestion(shop: Path) -> None:
    replace(shop / "intents" / "stock.yaml", "examples:", "exmaples:")
    problems = load_problems(shop)
    unknown = [p for p in problems if p.code == "unknown-key"]
    assert 1 == len(unknown)
    assert "是不是想写 examples" in unknown[0].message_zh
    assert "intents/stock.yaml:5:1" == str(unknown[0].origin)


def test_undefined_template_variable(shop: Path) -> None:
    replace(shop / "responses" / "greeting.yaml", "{shop.name}", "{shop.nmae}")
    [p] = load_problems(shop)
    assert "unknown-variable" == p.code
    assert "responses/greeting.yaml:4:5" == str(p.origin)
    assert "{shop.name}" in p.message_zh  # the near miss is suggested


def test_bad_regex(shop: Path) -> None:
    replace(
        shop / "intents" / "sizing.yaml",
        "weight: 0.55",
        "weight: 0.55\n  - regex: '(未闭合'\n    weight: 0.5",
    )
    [p] = load_problems(shop)
    assert "bad-regex" == p.code
    assert p.origin.file == "intents/sizing.yaml"


def test_thresholds_in_wrong_order(shop: Path) -> None:
    replace(shop / "config.yaml", "handoff_below: 0.45", "handoff_below: 0.9")
    [p] = load_problems(shop)
    assert "thresholds-order" == p.code


def test_intent_without_response(shop: Path) -> None:
    (shop / "responses" / "bargain.yaml").unlink()
    [p] = load_problems(shop)
    assert ("intent-without-response", "intents/bargain.yaml") == (p.code, p.origin.file)


def test_near_miss_of_a_builtin_id_is_a_warning_with_the_suggestion(shop: Path) -> None:
    """A shop may add intents, but 'stok' was surely meant to be 'stock'."""
    (shop / "intents" / "stock.yaml").rename(shop / "intents" / "stok.yaml")
    replace(shop / "intents" / "stok.yaml", "id: stock", "id: stok")
    replace(shop / "responses" / "stock.yaml", "intent: stock", "intent: stok")
    shop_bot, problems = load_shop(shop / "config.yaml")
    assert shop_bot is not None
    assert [("unknown-intent", "warning")] == [(p.code, p.severity.value) for p in problems]
    assert "stock" in problems[0].message_zh


def test_bad_intent_id(shop: Path) -> None:
    replace(shop / "intents" / "stock.yaml", "id: stock", "id: 库存")
    problems = load_problems(shop)
    assert "bad-intent-id" in [p.code for p in problems]


def test_wrong_type_and_syntax_errors_are_all_reported(shop: Path) -> None:
    replace(shop / "intents" / "invoice.yaml", "title: 发票开具", "title: [发票]")
    (shop / "intents" / "payment.yaml").write_text("id: payment\nexamples: [a, b\n", encoding="utf-8")
    problems = load_problems(shop)
    assert {"wrong-type", "yaml-syntax"} <= {p.code for p in problems}
    rendered = LoadError(problems).render()
    assert "intents/invoice.yaml:" in rendered and "intents/payment.yaml:" in rendered
    assert "Traceback" not in rendered


@pytest.mark.parametrize(
    ("file", "old", "new", "code", "where"),
    [
        (
            "intents/greeting.yaml",
            "examples:\n",
            "examples: []\nold_examples:\n",
            "empty-list",
            "intents/greeting.yaml:5:11",
        ),
        ("intents/greeting.yaml", "title: 问候\n", "", "missing-key", "intents/greeting.yaml:2:1"),
        (
            "intents/greeting.yaml",
            "title: 问候",
            "title: &t 问候\nx: *t",
            "yaml-alias",
            "intents/greeting.yaml:3:8",
        ),
        ("intents/greeting.yaml", "id: greeting", "id: thanks", "id-mismatch", "intents/greeting.yaml:2:5"),
        (
            "responses/greeting.yaml",
            "{shop.name}",
            "{shop.__class__}",
            "unsafe-template",
            "responses/greeting.yaml:4:5",
        ),
        (
            "responses/greeting.yaml",
            "{shop.name}",
            "{shop.name",
            "unsafe-template",
            "responses/greeting.yaml:4:5",
        ),
        (
            "responses/logistics.yaml",
            "intent: logistics",
            "intent: logistic",
            "response-without-intent",
            "responses/logistics.yaml:2:9",
        ),
        ("config.yaml", "answer_at: 0.75", "answer_at: 1.5", "bad-value", "config.yaml:{line}:14"),
        ("config.yaml", "  intents: intents", "  intents: intent", "file-missing", "intent"),
        (
            "intents/stock.yaml",
            "    weight: 0.85\n",
            "    weight: 0.85\n    weight: 0.9\n",
            "duplicate-key",
            "intents/stock.yaml:{next}:5",
        ),
    ],
)
def test_broken_file_is_reported_at_its_position(
    shop: Path, file: str, old: str, new: str, code: str, where: str
) -> None:
    """`{line}` in `where` is the line the replaced text starts on, `{next}` the one after it."""
    text = (shop / file).read_text(encoding="utf-8")
    line = text[: text.index(old)].count("\n") + 1
    where = where.format(line=line, next=line + 1)
    replace(shop / file, old, new)
    problems = load_problems(shop)
    assert (code, where) in [(p.code, str(p.origin)) for p in problems], [p.render() for p in problems]


def test_answers_that_all_need_an_order_are_refused(shop: Path) -> None:
    path = shop / "responses" / "thanks.yaml"
    path.write_text("intent: thanks\nanswers:\n  - 您的订单{order.id}已收到\n", encoding="utf-8")
    [p] = load_problems(shop)
    assert ("no-plain-answer", "responses/thanks.yaml:3:3") == (p.code, str(p.origin))


def test_two_files_for_one_intent(shop: Path) -> None:
    (shop / "intents" / "greeting2.yaml").write_text(
        (shop / "intents" / "greeting.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    codes = {p.code for p in load_problems(shop)}
    assert {"duplicate-intent", "id-mismatch"} <= codes


def test_non_utf8_shop_file(shop: Path) -> None:
    (shop / "intents" / "greeting.yaml").write_bytes("id: greeting\ntitle: 问候\n".encode("gbk"))
    assert "file-not-utf8" in [p.code for p in load_problems(shop)]


def test_condition_on_an_unknown_field_and_a_bad_window(shop: Path) -> None:
    path = shop / "responses" / "promotion.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "  - valid: 2026-11-01..2026-11-11",
        "  - valid: 2026-11-11..2026-11-01\n    when: {order.state: paid}",
        1,  # the intent's own rule, not the one of a topic further down
    )
    path.write_text(text, encoding="utf-8")
    problems = {p.code: p for p in load_problems(shop)}
    assert {"unknown-condition", "bad-valid-window"} == set(problems)
    assert "是不是想写 order.status" in problems["unknown-condition"].message_zh
    assert problems["bad-valid-window"].origin.file == "responses/promotion.yaml"


def test_an_unquoted_time_is_an_error_with_the_quoted_fix_so_no_buyer_reads_960(shop: Path) -> None:
    """YAML 1.1 reads `cutoff_time: 16:00` as 960; a buyer must never read 960前付款."""
    replace(shop / "config.yaml", 'cutoff_time: "16:00"', "cutoff_time: 16:00")
    [p] = load_problems(shop)
    assert p.code == "yaml-reads-otherwise" and str(p.origin).startswith("config.yaml:")
    assert "960" in p.message_zh and '写成 "16:00"' in p.fix_zh
    with pytest.raises(LoadError):
        Bot.from_config(shop / "config.yaml")


def test_a_weight_out_of_range_is_said_in_chinese_without_pydantics_english(shop: Path) -> None:
    path = shop / "intents" / "thanks.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("  多谢: 0.95", "  多谢: 95"), encoding="utf-8")
    _, problems = load_shop(shop / "config.yaml")
    [bad] = [p for p in problems if p.code == "bad-value"]
    assert "「多谢」的权重是 95.0，要在 0 和 1 之间" in bad.message_zh
    assert "Value error" not in bad.message_zh and "must be" not in bad.message_zh
    assert "weight of 多谢 is 95.0; it must be in (0, 1]" in bad.message_en
