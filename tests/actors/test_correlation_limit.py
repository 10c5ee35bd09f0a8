"""The correlated-positions cap through the real actors: the lookback is the setting, correlations are known from
the candle the lookback fills, and a pair without them counts as correlated."""

from __future__ import annotations

from pathlib import Path

from tests.actors.harness import MINUTE, T0, WIDE_STOPS, Harness

LOOKBACK = 30


def _decided(h: Harness, signal_id: str) -> list[tuple[str, str]]:
    return [(reason, detail) for sid, reason, detail in h.decisions() if sid == signal_id]


def test_correlation_unknown_blocks_until_the_candle_the_lookback_fills(tmp_path: Path) -> None:
    h = Harness(
        tmp_path,
        symbols=("BTCUSDT", "ETHUSDT"),
        profiles={"SAFE": {"max_correlated_positions": 1}},
        risk={"correlation_lookback": LOOKBACK},
        exit_modes=WIDE_STOPS,  # wide stops: the first position stays
    )
    try:
        h.calm(10)
        h.signal("BTCUSDT", "LONG", 0.8)
        h.until(lambda: bool(h.positions()), limit=3)
        h.calm(LOOKBACK - 1 - (h.open_time - T0) // MINUTE)

        early = h.signal("ETHUSDT", "LONG", 0.8)
        h.step()  # candle LOOKBACK: LOOKBACK - 1 returns, one short of the lookback
        ((reason, detail),) = _decided(h, early)
        assert reason == "BLOCKED_BY_POSITION_LIMIT" and "BTCUSDT (no correlation known yet)" in detail

        # The harness moves its symbols independently: with a full lookback the pair is known, and uncorrelated.
        late = h.signal("ETHUSDT", "LONG", 0.8)
        h.step()  # candle LOOKBACK + 1: recomputed in this very step, not at some later refresh
        assert [reason for reason, _ in _decided(h, late)] == ["ACCEPTED"]
    finally:
        h.stop()
