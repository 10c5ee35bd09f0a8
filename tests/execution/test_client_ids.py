"""The client-id codec: every order of ours is named so that a restart finds it, and an id is never reused."""

from __future__ import annotations

import re

from actors.execution.ids import Purpose, client_order_id, entry_client_id, instance_prefix, parse_client_order_id
from exchange.port import CLIENT_ORDER_ID_PATTERN

PID = "p-3fa2b1c4d5e6"


def test_client_order_id_names_purpose_position_and_number() -> None:
    assert client_order_id("qt", Purpose.STOP, PID, 2) == "qt-sl-3fa2b1c4d5e6-2"


def test_entry_client_id_is_number_zero_of_the_entry_purpose() -> None:
    assert entry_client_id("qt", PID) == client_order_id("qt", Purpose.ENTRY, PID, 0) == "qt-e-3fa2b1c4d5e6-0"


def test_client_order_id_fits_binance_rule_for_every_purpose() -> None:
    for purpose in (Purpose.ENTRY, Purpose.STOP, Purpose.TAKE_PROFIT, Purpose.PARTIAL, Purpose.EXIT):
        client_id = client_order_id("quantum", purpose, PID, 99_999)
        assert CLIENT_ORDER_ID_PATTERN.match(client_id), client_id
        assert len(client_id) <= 36


def test_parse_client_order_id_round_trips() -> None:
    parsed = parse_client_order_id("qt", client_order_id("qt", Purpose.TAKE_PROFIT, PID, 7))
    assert parsed == (Purpose.TAKE_PROFIT, PID, 7)
    assert parsed is not None and parsed.position_id == PID and parsed.number == 7


def test_parse_client_order_id_of_another_prefix_is_none() -> None:
    assert parse_client_order_id("qt", client_order_id("other", Purpose.STOP, PID, 1)) is None


def test_parse_client_order_id_of_a_foreign_shape_is_none() -> None:
    for foreign in ("web_3Hk2x9", "qt-sl-abc", "qt-sl-abc-x", "qt-sl-abc-1-2", "", "qt"):
        assert parse_client_order_id("qt", foreign) is None, foreign


def test_client_order_ids_differ_by_number_and_purpose() -> None:
    ids = {client_order_id("qt", purpose, PID, n) for purpose in ("sl", "tp", "pt", "x") for n in range(5)}
    assert len(ids) == 20
    assert all(re.fullmatch(r"qt-(sl|tp|pt|x)-3fa2b1c4d5e6-\d", i) for i in ids)


def test_instance_prefix_is_read_from_any_instance_id_and_none_from_other_shapes() -> None:
    assert instance_prefix("qt7f3a91-sl-abcdefabcdef-0") == "qt7f3a91"
    assert instance_prefix("qt-e-abcdefabcdef-0") == "qt"
    for other in ("web_123", "autoclose-1234567890123456", "a-b-c-d", "qt-sl-abcdefabcdef-x", "x-ZZ-abc-1"):
        assert instance_prefix(other) is None
