"""Templates to reply text: fields filled from a flat table, hostile fields never evaluated."""

import pytest

from bot.stages.render import choose, fill, shop_values
from bot.templates import variables


def test_fill_uses_shop_values_and_literal_braces() -> None:
    values = shop_values({"name": "小店", "couriers": ["中通", "圆通"], "days": 7.0})
    assert "小店发中通、圆通，7天 {ok}" == fill("{shop.name}发{shop.couriers}，{shop.days}天 {{ok}}", values)


@pytest.mark.parametrize(
    "hostile", ["{shop.__class__}", "{0.__init__}", "{shop.name.__globals__}", "{shop[0]}"]
)
def test_hostile_fields_never_reach_python(hostile: str) -> None:
    """Template fields are names looked up in a table, never attribute access: nothing leaks."""
    names, bad = variables(hostile)
    assert () == names
    assert 1 == len(bad)
    assert "" == fill(hostile, shop_values({"name": "小店"}))


def test_choice_is_reproducible_per_session_and_turn() -> None:
    variants = ["a", "b", "c", "d"]
    assert choose(variants, "s1", 3) == choose(variants, "s1", 3)
    assert len({choose(variants, f"s{i}", 1) for i in range(40)}) > 1


def test_first_conditional_rule_that_holds_wins() -> None:
    """Context conditions and validity windows pick the answers; otherwise the plain ones."""
    from datetime import date
    from types import MappingProxyType

    from bot.model import AnswerRule, Origin, Template

    here = Origin(file="responses/x.yaml")
    shipped = AnswerRule(when=MappingProxyType({"order.status": frozenset({"shipped"})}), valid=None,
                         variants=("已发出",), origin=here)  # fmt: skip
    double11 = AnswerRule(when=MappingProxyType({}), valid=(date(2026, 11, 1), date(2026, 11, 11)),
                          variants=("双11",), origin=here)  # fmt: skip
    template = Template(
        intent_id="x", variants=("平常",), variables=frozenset(), origin=here, rules=(shipped, double11)
    )
    assert ("已发出",) == template.answers_for({"order.status": "shipped"}, date(2026, 11, 5))[0]
    assert ("双11",) == template.answers_for({"order.status": "paid"}, date(2026, 11, 11))[0]
    assert ("平常",) == template.answers_for({}, date(2026, 11, 12))[0]
