"""The shipped demo shop is complete: every fixed intent, enough phrasings, answers from config."""

import re
from pathlib import Path

import pytest
import yaml

from bot import Bot
from bot.loading.schema import CORE_INTENTS, INTENT_IDS


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("intent", INTENT_IDS)
def test_every_fixed_intent_has_an_intent_and_a_response_file(repo: Path, intent: str) -> None:
    assert load(repo / "intents" / f"{intent}.yaml")["id"] == intent
    assert len(load(repo / "responses" / f"{intent}.yaml")["answers"]) >= 2


@pytest.mark.parametrize("intent", CORE_INTENTS)
def test_core_intents_have_forty_distinct_phrasings(shipped_bot: Bot, intent: str) -> None:
    """Distinct after normalisation: 轉人工 and 转人工 are one phrasing, not two."""
    normalized = [e.normalized for e in shipped_bot.shop.matcher.examples if e.intent_id == intent]
    assert len(set(normalized)) >= 40
    assert len(set(normalized)) == len(normalized)


def test_answers_take_shop_facts_from_config(repo: Path) -> None:
    """Shop facts appear in answers only as {shop.xxx}, so a shop changes them in one place."""
    config = load(repo / "config.yaml")["shop"]
    used = set()
    for path in (repo / "responses").glob("*.yaml"):
        for answer in load(path)["answers"]:
            used |= set(re.findall(r"\{shop\.([a-z_]+)\}", answer))
            assert config["name"] not in answer
    for fact in [
        "name",
        "ship_within_hours",
        "couriers",
        "not_served",
        "return_days",
        "return_shipping",
        "invoice_kinds",
        "business_hours",
    ]:
        assert fact in used or fact in str(load(repo / "config.yaml")["replies"])


def test_no_shop_fact_is_hard_coded_in_python(repo: Path) -> None:
    config = load(repo / "config.yaml")["shop"]
    source = "".join(p.read_text(encoding="utf-8") for p in (repo / "bot").glob("*.py"))
    assert config["name"] not in source
