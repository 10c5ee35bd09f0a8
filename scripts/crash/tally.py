"""What a run has counted and found so far; every part adds to the one tally, the figures are made from it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

KILL_MODES = ("order", "log", "time", "startup")


@dataclass
class Tally:
    kills_done: int = 0
    starts: int = 0
    kill_modes: Counter[str] = field(default_factory=Counter)  # the modes armed, one per kill
    # Of them, the kills that happened as armed, and the rounds whose armed event never came (a plain kill then).
    kills_as_armed: Counter[str] = field(default_factory=Counter)
    fallbacks: Counter[str] = field(default_factory=Counter)
    recovery_actions: Counter[str] = field(default_factory=Counter)
    # Findings, keyed so that one problem seen after many kills counts once.
    lost: dict[str, str] = field(default_factory=dict)
    mismatches: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    quarantined: set[str] = field(default_factory=set)  # symbols with a lost position: no more signals there
    halted_at: int | None = None  # the kill after which the operator halted the gate
    halt_kept: int = 0  # checks that found the operator's halt still in force
    faults: Counter[str] = field(default_factory=Counter)  # faults injected, by kind (`faults.py`)
    protection_checks: int = 0  # looks at the exchange after a step (`protection.py`)
    unprotected: int = 0  # of them, the ones that found a position uncovered for longer than allowed
    unprotected_details: dict[str, str] = field(default_factory=dict)

    def by_mode(self, counts: Counter[str]) -> dict[str, int]:
        """Every kill mode's count, none left out."""
        return {mode: counts[mode] for mode in KILL_MODES}
