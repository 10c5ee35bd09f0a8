"""User strategy files written into a test's temporary folder, as a user would write them."""

from __future__ import annotations

from pathlib import Path

HEADER = """
from actors.signals.strategy import Side, Strategy, StrategySignal, Window
from pydantic import BaseModel, ConfigDict


class JumpParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jump: float = 0.002
    confidence: float = 0.9

"""

# LONG on a candle that closes `jump` above the one before: the tests make such a candle when they want a signal.
JUMP = """
class Jump(Strategy[JumpParams]):
    name = "{name}"
    Params = JumpParams
    history = 2

    def on_candle(self, window: Window):
        if window.close[-1] > window.close[-2] * (1 + self.params.jump):
            confidence = self.params.confidence
            return [StrategySignal(symbol=window.symbol, side=Side.LONG, confidence=confidence, note="jump")]
        return []
"""

# Jump's signals, but on a jump candle it fails the way `body` says.
FAILING = """
import time


class Failing(Strategy[JumpParams]):
    name = "{name}"
    Params = JumpParams
    history = 2

    def on_candle(self, window: Window):
        if window.close[-1] > window.close[-2] * (1 + self.params.jump):
{body}
        return []
"""

BODIES = {
    "raises": "            raise ZeroDivisionError('the strategy divided by zero')",
    "garbage": "            return {'symbol': window.symbol, 'side': 'LONG'}",
    "bad_confidence": "            return [StrategySignal(symbol=window.symbol, side=Side.LONG, confidence=1.5)]",
    # Runs until well past a 5 ms budget (a busy loop: what a slow computation looks like from outside).
    "slow": (
        "            started = time.perf_counter()\n"
        "            while time.perf_counter() - started < 0.05:\n"
        "                pass\n"
        "            return [StrategySignal(symbol=window.symbol, side=Side.LONG, confidence=0.9)]"
    ),
}


def jump_file(folder: Path, name: str = "jump", module: str = "my_jump") -> Path:
    path = folder / f"{module}.py"
    path.write_text(HEADER + JUMP.format(name=name))
    return path


def failing_file(folder: Path, mode: str, name: str = "flaky") -> Path:
    path = folder / f"failing_{mode}.py"
    path.write_text(HEADER + FAILING.format(name=name, body=BODIES[mode]))
    return path
