"""A size from a chart, a height and a weight; the sizing reply and what it asks for next."""

import pytest

from bot.flows.sizing import size_reply
from bot.settings import SizeBand
from bot.stages.sizing import Recommendation, recommend

CHART = (
    SizeBand(size="S", height=(150, 160), weight=(40, 50)),
    SizeBand(size="M", height=(158, 168), weight=(48, 58)),
    SizeBand(size="L", height=(165, 175), weight=(56, 66)),
    SizeBand(size="XL", height=(170, 180), weight=(64, 75)),
)
REPLIES = {
    "size_recommend": "推荐{size}码",
    "size_looser": "宽松{looser}",
    "size_tighter": "修身{tighter}",
    "ask_height": "身高？",
    "ask_weight": "体重？",
}


@pytest.mark.parametrize(
    ("height", "weight", "expected"),
    [
        (165, 55, Recommendation(size="M", looser="L", tighter="S")),
        (175, 70, Recommendation(size="XL", looser=None, tighter="L")),  # weight decides: the larger size
        (150, 38, Recommendation(size="S", looser="M", tighter=None)),  # below the chart: smallest
        (195, 100, Recommendation(size="XL", looser=None, tighter="L")),  # above the chart: largest
        (158, 65, Recommendation(size="L", looser="XL", tighter="M")),
    ],
)
def test_recommendation_fits_the_larger_dimension(
    height: int, weight: float, expected: Recommendation
) -> None:
    assert expected == recommend(CHART, height, weight)


def test_reply_asks_only_for_what_is_missing() -> None:
    slots = {"height_cm": "170"}
    assert ("体重？", "weight") == size_reply(slots, CHART, REPLIES, {})
    assert ("身高？", "height") == size_reply({"weight_kg": "60"}, CHART, REPLIES, {})
    assert (None, "size") == size_reply({}, CHART, REPLIES, {})
    slots = {"height_cm": "165", "weight_kg": "55"}
    assert ("推荐M码宽松L；修身S。", None) == size_reply(slots, CHART, REPLIES, {})
    assert "M" == slots["size"]
