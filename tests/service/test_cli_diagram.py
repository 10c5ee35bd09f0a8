"""`quantum-trader diagram`: drawn from the same tables the machines run on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from state_machines import GATE_TABLE, POSITION_TABLE

runner = CliRunner()


@pytest.mark.parametrize(("machine", "table"), [("position", POSITION_TABLE), ("gate", GATE_TABLE)])
def test_diagram_markdown_has_every_edge_of_the_table(tmp_path: Path, machine: str, table) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / f"{machine}.md"
    result = runner.invoke(app, ["diagram", machine, "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "```mermaid" in text and "stateDiagram-v2" in text
    for edge in table.edges:
        assert f"{edge.source} --> {edge.dest}: {edge.trigger}" in text


@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_diagram_through_graphviz_writes_the_image(tmp_path: Path, suffix: str) -> None:
    assert shutil.which("dot"), "Graphviz is installed by scripts/test.sh so that this is covered"
    out = tmp_path / f"position{suffix}"
    result = runner.invoke(app, ["diagram", "position", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"partially_closed" in data


def test_diagram_without_graphviz_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an environment where `dot` cannot be found
    result = runner.invoke(app, ["diagram", "gate", "--out", str(tmp_path / "gate.svg")])
    assert result.exit_code == 2
    assert "graphviz" in result.stderr and not (tmp_path / "gate.svg").exists()


def test_diagram_unknown_format_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["diagram", "gate", "--out", str(tmp_path / "gate.pdf")])
    assert result.exit_code == 2 and "unknown format" in result.stderr
