"""Diagrams drawn from the very tables the machines run on."""

from __future__ import annotations

from state_machines.table import StateTable


def mermaid(table: StateTable) -> str:
    lines = ["stateDiagram-v2", f"    [*] --> {table.initial}"]
    for edge in table.edges:
        label = edge.trigger + (f" [{edge.guard.__name__}]" if edge.guard else "")
        lines.append(f"    {edge.source} --> {edge.dest}: {label}")
    lines += [f"    {state} --> [*]" for state in table.states if state in table.final]
    return "\n".join(lines) + "\n"


def mermaid_markdown(table: StateTable) -> str:
    notes = [f"- `{e.source}` → `{e.dest}` on `{e.trigger}`: {e.note}" for e in table.edges if e.note]
    body = f"# The {table.name} state machine\n\n```mermaid\n{mermaid(table)}```\n"
    return body + ("\n" + "\n".join(notes) + "\n" if notes else "")


def dot(table: StateTable) -> str:
    lines = [
        f'digraph "{table.name}" {{',
        "    rankdir=LR;",
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
        '    __start [shape=point, label=""];',
        f'    __start -> "{table.initial}";',
    ]
    lines += [f'    "{state}" [peripheries=2];' for state in table.states if state in table.final]
    for edge in table.edges:
        label = edge.trigger + (f"\\n[{edge.guard.__name__}]" if edge.guard else "")
        lines.append(f'    "{edge.source}" -> "{edge.dest}" [label="{label}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"
