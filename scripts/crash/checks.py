"""What is checked after each recovery, with the feed quiet; what fails goes into the tally once per key.

1. no position lost: every position the exchange holds has a live position in the database on the same side
   with the same open quantity (or an entry still being resolved: its outcome unknown for less than
   `exchange.never_placed_after_s`, since an order that timed out may still appear);
2. the database and the exchange agree: no open position in the database that the exchange does not hold,
   every open order of ours on the exchange belongs to a live position, and every live position's current
   stop (the one the database names) rests;
3. every entity's state equals its last transition's target;
4. the gate: never halted or locked by anything but the operator; after the operator's halt, halted.

(Duplicate client order ids are counted from the fake server at the end: `runner.figures`.)
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import RowMapping

from actors.execution.ids import parse_client_order_id
from persistence.position_details import PositionDetails
from scripts.crash.database import Database
from scripts.crash.pacing import wait_cycles
from scripts.crash.process import NEVER_PLACED_AFTER_S, Service
from scripts.crash.scenario import ENTRY_STATES, FINAL, OPEN_STATES
from scripts.crash.tally import Tally
from scripts.fake_binance.server import FakeBinance

RESOLVE_WITHIN_MS = int((NEVER_PLACED_AFTER_S + 15) * 1000)  # the service's write-off rule, and some steps
Problem = tuple[str, str, str]  # (kind, key, text); kind "lost" or "mismatch"
OpenOrder = tuple[str, str, str]  # (client id, symbol, order type)


class Checks:
    def __init__(self, fake: FakeBinance, db: Database, tally: Tally) -> None:
        self.fake, self.db, self.tally = fake, db, tally

    def settled(self, service: Service, kill: int) -> list[str]:
        """The checks once the quiet service has finished what it had in hand; a transient picture gets a few
        more cycles before it counts (an entry's fill applied at the next cycle, a protective order then placed)."""
        tally = self.tally
        wait_cycles(service, self.db, 2)
        snapshot = (dict(tally.lost), dict(tally.mismatches), set(tally.quarantined))
        for attempt in range(3):
            failed = self.check(kill)
            if not failed or attempt == 2:
                gate = self.db.gate()
                if tally.halted_at is not None and gate is not None and gate["state"] == "halted":
                    tally.halt_kept += 1
                return failed
            # A transient picture counts for nothing, and quarantines no symbol (the set is the signal inbox's too).
            tally.lost, tally.mismatches = dict(snapshot[0]), dict(snapshot[1])
            tally.quarantined.intersection_update(snapshot[2])
            wait_cycles(service, self.db, 2)
        return failed

    def check(self, kill: int) -> list[str]:
        """After a recovery with the feed quiet. Returns what failed (also recorded)."""
        self.fake.faults.release_late_orders()  # Binance registers a request that timed out in the end
        held, open_orders = self._exchange()
        live = [r for r in self.db.positions() if r["state"] not in FINAL]
        # An entry whose outcome is unknown may rightly stay so while lookups do not find it (an order that timed
        # out may still appear): it is written off only after lookups spread over `never_placed_after_s`.
        now = int(time.time() * 1000)
        resolving = {
            r["id"]
            for r in live
            if r["state"] in ENTRY_STATES and now - self.db.last_transition_at(r["id"]) < RESOLVE_WITHIN_MS
        }
        problems = (
            self._lost_positions(held, live, resolving)
            + _database_vs_exchange(held, open_orders, live, self.db.client_prefix(), resolving)
            + self._audit_trail()
            + self._gate(kill)
        )
        failed = []
        for kind, key, text in problems:
            book = self.tally.lost if kind == "lost" else self.tally.mismatches
            if key not in book:
                book[key] = f"kill {kill}: {text}"
            failed.append(f"{kind}: {text}")
        return failed

    def _exchange(self) -> tuple[dict[str, Decimal], list[OpenOrder]]:
        """The fake server's positions held and open orders (plain and algo), read under its lock."""
        engine = self.fake.engine
        with engine.lock:
            held = {s: q for s, (q, _) in engine.positions.items() if q != 0}
            open_orders = [
                (o.client_id, o.symbol, o.type)
                for o in engine.orders.values()
                if o.status in ("NEW", "PARTIALLY_FILLED")
            ]
            open_orders += [
                (a.client_algo_id, a.symbol, a.order_type) for a in engine.algos.values() if a.status == "NEW"
            ]
        return held, open_orders

    def _lost_positions(
        self, held: dict[str, Decimal], live: Sequence[RowMapping], resolving: set[str]
    ) -> list[Problem]:
        problems = []
        for symbol, qty in sorted(held.items()):
            side = "LONG" if qty > 0 else "SHORT"
            mine = [r for r in live if r["symbol"] == symbol]
            good = [
                r
                for r in mine
                if (r["state"] in OPEN_STATES and r["side"] == side and _open_quantity(r) == abs(qty))
                or (r["id"] in resolving and r["side"] == side)
            ]
            if not good:
                # A stuck position there blocks the symbol (one position per symbol).
                self.tally.quarantined.add(symbol)
                seen = "; ".join(f"{r['id']} {r['state']} {r['side']} open {_open_quantity(r)}" for r in mine)
                problems.append(
                    (
                        "lost",
                        f"{symbol}:{qty}",
                        (
                            f"exchange holds {side} {abs(qty)} {symbol}; the "
                            f"database's live positions there: {seen or 'nothing'}"
                        ),
                    )
                )
        return problems

    def _audit_trail(self) -> list[Problem]:
        return [
            ("mismatch", f"audit:{text}", f"audit trail: {text}")
            for text in self.db.load_machines_mismatches() + self.db.all_entity_mismatches()
        ]

    def _gate(self, kill: int) -> list[Problem]:
        gate = self.db.gate()
        halted_at = self.tally.halted_at
        if gate is None:
            return [("mismatch", "gate:none", "no gate row")]
        if halted_at is not None:
            if gate["state"] != "halted":
                return [
                    (
                        "mismatch",
                        f"gate:lost-halt:{kill}",
                        (
                            f"the operator's halt (set after kill "
                            f"{halted_at}) did not survive: gate "
                            f"{gate['state']} ({gate['reason']})"
                        ),
                    )
                ]
        elif gate["state"] in ("halted", "locked"):
            return [
                (
                    "mismatch",
                    f"gate:{gate['state']}:{gate['reason']}",
                    f"gate {gate['state']} without the operator: {gate['reason']}",
                )
            ]
        return []


def _database_vs_exchange(
    held: dict[str, Decimal],
    open_orders: list[OpenOrder],
    live: Sequence[RowMapping],
    prefix: str,
    resolving: set[str],
) -> list[Problem]:
    problems: list[Problem] = []
    for r in live:
        if r["state"] in ENTRY_STATES and r["symbol"] not in held and r["id"] not in resolving:  # else: lost
            problems.append(
                (
                    "mismatch",
                    f"entry:{r['id']}",
                    (f"{r['id']} {r['symbol']} still {r['state']} with the system quiet after recovery"),
                )
            )
        elif r["state"] in OPEN_STATES and r["symbol"] not in held:
            problems.append(
                (
                    "mismatch",
                    f"flat:{r['id']}",
                    (f"{r['id']} {r['symbol']} {r['state']} in the database, the exchange holds nothing"),
                )
            )
    for symbol, count in Counter(r["symbol"] for r in live).items():
        if count > 1:
            problems.append(("mismatch", f"two:{symbol}", f"{count} live positions on {symbol}"))
    live_ids = {r["id"] for r in live}
    resting = {cid for cid, _, _ in open_orders}
    for cid, symbol, order_type in open_orders:
        parsed = parse_client_order_id(prefix, cid)
        if parsed is not None and parsed[1] not in live_ids:
            problems.append(
                ("mismatch", f"orphan:{cid}", (f"open {order_type} {cid} on {symbol} belongs to no live position"))
            )
    for r in live:
        if r["state"] not in ("open", "partially_closed"):
            continue
        orders = PositionDetails.from_json(r["details"]).orders
        stop = orders.get("sl")
        if stop is None or stop not in resting:
            problems.append(
                (
                    "mismatch",
                    f"stop:{r['id']}:{stop}",
                    (
                        f"{r['id']} {r['symbol']} {r['state']} (seq {r['seq']}): its stop {stop} is not resting on "
                        f"the exchange (checked at {time.strftime('%H:%M:%S')})"
                    ),
                )
            )
        tp = orders.get("tp")
        if r["take_profit_price"] is not None and (tp is None or tp not in resting):
            problems.append(
                (
                    "mismatch",
                    f"tp:{r['id']}:{tp}",
                    f"{r['id']} {r['symbol']} {r['state']}: its take-profit {tp} is not resting",
                )
            )
    return problems


def _open_quantity(row: RowMapping) -> Decimal:
    return PositionDetails.from_json(row["details"]).open_quantity(Decimal(row["filled_quantity"]))
