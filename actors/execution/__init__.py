"""Execution: the actor (a thin pykka shell) around the engine that owns the position machines, with its flows
(entries, protection, closing, fills) and recovery (a pure plan, applied at start and per step)."""
