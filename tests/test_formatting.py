"""The shared number conventions: what people see on screen and what programs get from `--json`."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from alchemiser.formatting import dumps_json, json_money, json_ready, money, pct, pp, price, qty


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("99982.9440547110629", "$99,982.94"),
        (Decimal("1E+30"), "$1,000,000,000,000,000,000,000,000,000,000.00"),
        (-1234.5, "-$1,234.50"),
        (-0.001, "$0.00"),
        (float("nan"), "—"),
        (float("inf"), "—"),
        (None, "—"),
        ("not a number", "—"),
    ],
)
def test_money_is_cents_with_thousands_separators(value: object, shown: str) -> None:
    assert money(value) == shown


def test_signed_money_percentages_points_prices_and_quantities() -> None:
    assert money(3, signed=True) == "+$3.00" and money(-3, signed=True) == "-$3.00"
    assert pct(0.123456) == "12.35%" and pct(None) == "—" and pct(1e308).endswith("%")
    assert pp(-0.0012) == "-0.12 pp" and pp(0) == "+0.00 pp"
    assert price("101.2803") == "$101.28" and price("0.45123") == "$0.4512"
    assert qty("591.115399802") == "591.1154" and qty("12.000") == "12"
    assert qty(Decimal("1E-9")) == "0.000000001"


def test_json_money_is_a_number_rounded_to_cents() -> None:
    assert json_money("99982.9440547110629") == 99982.94
    assert json_money(Decimal("1E+30")) == 1e30
    assert json_money(float("nan")) is None and json_money(None) is None


def test_json_ready_applies_one_convention_by_key_and_is_strict_json() -> None:
    payload = {
        "account": {"equity": "99982.9440547110629", "cash": Decimal("200.03000010165"), "account_id": "sim-1"},
        "orders": [{"filled_qty": "591.115399802", "filled_avg_price": "101.30", "requested_notional": None}],
        "targets": {"SPY": 0.6, "BIL": float("nan")},
        "metric": float("inf"),
        "count": Decimal("3"),
        "client_order_id": "alc-20240315-SPY-buy-1",
    }
    ready = json_ready(payload)
    assert ready["account"] == {"equity": 99982.94, "cash": 200.03, "account_id": "sim-1"}
    assert ready["orders"][0] == {"filled_qty": 591.115399802, "filled_avg_price": 101.3, "requested_notional": None}
    assert ready["targets"] == {"SPY": 0.6, "BIL": None}
    assert ready["metric"] is None and ready["count"] == 3
    assert ready["client_order_id"] == "alc-20240315-SPY-buy-1"
    assert json.loads(dumps_json(payload)) == ready
