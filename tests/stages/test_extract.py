"""Extractors: every number form buyers use, and the look-alikes that must not match."""

import pytest

from bot.stages.extract import Body, body, chinese_number, order_numbers, tracking_numbers


@pytest.mark.parametrize(
    ("text", "height", "weight"),
    [
        ("170 65kg穿什么码", 170, 65.0),
        ("身高170体重65公斤", 170, 65.0),
        ("1米7 130斤", 170, 65.0),
        ("1米75，140斤", 175, 70.0),
        ("1.7m 65kg", 170, 65.0),
        ("1.68米 52kg", 168, 52.0),
        ("一米七 一百三十斤", 170, 65.0),
        ("一米六五 九十五斤", 165, 47.5),
        ("一米七五 一百二斤", 175, 60.0),
        ("130斤 170cm", 170, 65.0),  # any order
        ("165/100", 165, 50.0),  # unitless weight ≥ 80 is 斤
        ("170 65", 170, 65.0),  # unitless weight < 80 is kg
        ("175公分", 175, None),
        ("体重120", None, 60.0),
        ("我65公斤", None, 65.0),
        ("两百斤能穿吗", None, 100.0),
    ],
)
def test_height_and_weight_forms(text: str, height: int | None, weight: float | None) -> None:
    assert Body(height_cm=height, weight_kg=weight) == body(text)


@pytest.mark.parametrize(
    "text",
    [
        "170元能便宜吗",  # a price
        "¥170",
        "这件170块",
        "1月7日发货",  # a date
        "2026年买的",
        "17号能到吗",
        "17:00前付款",  # a time
        "买了170件",  # a quantity
        "电话13812345678",  # a phone number
        "订单号240512338712",  # an order number
        "1.7元一个",
        "500ml",
    ],
)
def test_look_alikes_are_not_measurements(text: str) -> None:
    assert Body() == body(text)


def test_bare_height_only_when_expected_or_beside_a_weight() -> None:
    assert body("170").height_cm is None
    assert 170 == body("170", expecting_height=True).height_cm
    assert 170 == body("170，65公斤").height_cm


@pytest.mark.parametrize(
    ("text", "value"), [("一百三十", 130), ("九十五", 95), ("一百二", 120), ("两百", 200), ("十", 10)]
)
def test_chinese_numbers(text: str, value: int) -> None:
    assert value == chinese_number(text)


@pytest.mark.parametrize(
    ("text", "orders", "tracking"),
    [
        ("订单号240512338712 还没发货", ("240512338712",), ()),
        ("单号是 3287654321098765432", ("3287654321098765432",), ()),
        ("sf1234567890123 到哪了", (), ("SF1234567890123",)),
        ("jdv012345678901 一直没动", (), ("JDV012345678901",)),
        ("我电话13812345678", (), ()),  # a phone number is neither
        ("170 65kg", (), ()),
        ("20261111下的单", (), ()),  # 8 digits: a date, not an order
    ],
)
def test_order_and_tracking_numbers(text: str, orders: tuple[str, ...], tracking: tuple[str, ...]) -> None:
    assert (orders, tracking) == (order_numbers(text), tracking_numbers(text))
