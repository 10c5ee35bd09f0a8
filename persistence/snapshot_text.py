"""The text of a policy snapshot's `policy` and `inputs` columns: `json.dumps(dataclasses.asdict(value),
sort_keys=True, default=str)` to the byte, at a fraction of its cost. A snapshot is written on about a fifth of a
replay's one-minute steps, and most of what it holds is what the last one held, as the very same objects.
"""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from json.encoder import encode_basestring_ascii
from typing import Any

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # each dataclass a policy snapshot met, with its fields' names


def _snapshot_value(value: Any) -> Any:
    """What JSON cannot encode itself in a policy snapshot: a dataclass as the dict of its fields (the encoder
    goes on into them), anything else (Decimal) as its text."""
    kind = type(value)
    names = _FIELD_NAMES.get(kind)
    if names is None:
        if not is_dataclass(value) or isinstance(value, type):
            return str(value)
        names = _FIELD_NAMES[kind] = tuple(field.name for field in fields(value))
    return {name: getattr(value, name) for name in names}


# Built once (`json.dumps` builds one per call). A policy snapshot's dataclasses are encoded as they stand, to the
# text `json.dumps(dataclasses.asdict(value), sort_keys=True, default=str)` gives, at less than half its cost:
# `asdict` deep-copies every leaf, and a snapshot is written on about a fifth of the one-minute steps.
SNAPSHOT_JSON = json.JSONEncoder(sort_keys=True, default=_snapshot_value)
# The C encoder `SNAPSHOT_JSON.encode` builds on every call, with the same settings, built once (without the markers
# that catch a cycle, which frozen values cannot form); None where Python has no C accelerator for JSON.
_C_MAKE_ENCODER = getattr(json.encoder, "c_make_encoder", None)  # not in the typing stubs
_SNAPSHOT_CHUNKS = (
    None
    if _C_MAKE_ENCODER is None
    else _C_MAKE_ENCODER(None, _snapshot_value, encode_basestring_ascii, None, ": ", ", ", True, False, True)
)


def _encoded(value: Any) -> str:
    """`SNAPSHOT_JSON.encode(value)`, to the byte."""
    if isinstance(value, str):  # a snapshot's regime, volatility and reasons: what `encode` does with text
        return encode_basestring_ascii(value)
    if _SNAPSHOT_CHUNKS is None:
        return SNAPSHOT_JSON.encode(value)
    return "".join(_SNAPSHOT_CHUNKS(value, 0))


# The orchestrator hands on the same few policies again and again, as the market's volatility flickers between two
# levels (two snapshots in three on a replay): the text of the last few policies met is kept by their identity. Kept
# here, a policy's id cannot be taken by another; a policy is frozen, so the same policy is the same text.
KEPT_POLICIES = 16
_POLICY_TEXT: dict[int, tuple[object, str]] = {}


def policy_text(policy: Any) -> str:
    """`SNAPSHOT_JSON.encode(policy)`, kept for a dataclass (a mapping may change between two snapshots)."""
    if not is_dataclass(policy):
        return _encoded(policy)
    kept = _POLICY_TEXT.get(id(policy))
    if kept is None:
        if len(_POLICY_TEXT) >= KEPT_POLICIES:
            del _POLICY_TEXT[next(iter(_POLICY_TEXT))]  # the first kept of those kept
        kept = _POLICY_TEXT[id(policy)] = policy, _encoded(policy)
    return kept[1]


# A policy's inputs hand most of their parts on from one snapshot to the next as the very same objects (the costs, the
# performance, the symbols, the cool-downs, the risk state, until they change): the text of each tuple or dataclass
# field is kept with the part it was made from, and used again while the field holds that same object. Kept here, the
# part's id cannot be taken by another; a snapshot's values are frozen (dataclasses, numbers, text), so the same part
# is the same text.
_PART_TEXT: dict[tuple[type, str], tuple[object, str]] = {}
_SORTED_KEYS: dict[type, tuple[tuple[str, str], ...]] = {}  # each dataclass's fields, by name, with their JSON key


def snapshot_text(value: Any) -> str:
    """`SNAPSHOT_JSON.encode(value)`, to the byte, at a third of its cost for a dataclass whose tuple and dataclass
    fields repeat those of the last one encoded: each field encoded on its own, in the name order `sort_keys` gives."""
    if not is_dataclass(value) or isinstance(value, type):
        return _encoded(value)
    kind = type(value)
    keys = _SORTED_KEYS.get(kind)
    if keys is None:
        names = sorted(field.name for field in fields(value))
        keys = _SORTED_KEYS[kind] = tuple((name, _encoded(name) + ": ") for name in names)
    parts = []
    for name, key in keys:
        part = getattr(value, name)
        if type(part) is tuple or is_dataclass(part):
            kept = _PART_TEXT.get((kind, name))
            if kept is None or kept[0] is not part:
                kept = _PART_TEXT[kind, name] = part, _encoded(part)
            parts.append(key + kept[1])
        else:
            parts.append(key + _encoded(part))
    return "{" + ", ".join(parts) + "}"
