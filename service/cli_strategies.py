"""`quantum-trader strategies`, and the strategy check of `config check` and `run`."""

from __future__ import annotations

import inspect
from typing import Any

from rich.table import Table

from actors.signals.loading import (
    LoadedStrategy,
    StrategyError,
    configured_specs,
    installed_specs,
    load_strategies,
    strategy_class,
)
from config import Settings
from config.accounts import all_account_settings
from service.cli_common import (
    AccountOption,
    ConfigOption,
    JsonOption,
    clean_errors,
    command_settings,
    console,
    print_json,
)


def check_strategies(settings: Settings) -> tuple[LoadedStrategy, ...]:
    """Load every configured strategy, also each account's; raises `StrategyError` (exit 2) naming the first that
    cannot run, and the account when it is an account's."""
    loaded = load_strategies(settings)
    for name, account in all_account_settings(settings).items():
        try:
            load_strategies(account)
        except StrategyError as error:
            raise StrategyError(f"account {name}: {error}") from None
    return loaded


def strategies(config: ConfigOption = None, as_json: JsonOption = False, account: AccountOption = None) -> None:
    """The strategies available (the built-in, installed packages' and the configured ones) and the effective
    parameters of each (a configured strategy's as the settings make them; the others' defaults)."""
    with clean_errors():
        settings = command_settings(config, None, account)
        configured = {item.spec: item for item in check_strategies(settings)}
    specs = dict.fromkeys((*configured_specs(settings), *installed_specs()))  # each once, the configured first
    unique = [_row(spec, configured.get(spec)) for spec in specs]
    if as_json:
        print_json(unique)
        return
    table = Table(title="strategies")
    for column in ("name", "spec", "runs", "symbols", "timeframe", "history", "parameters"):
        table.add_column(column, overflow="fold")
    for row in unique:
        table.add_row(
            row["name"] or "-",
            row["spec"],
            "yes" if row["configured"] else "no",
            ", ".join(row["symbols"]) or "all",
            row["timeframe"] or "any",
            str(row["history"]),
            ", ".join(f"{key}={value}" for key, value in row["params"].items()) or row["error"] or "-",
        )
    console.print(table)


def _row(spec: str, loaded: LoadedStrategy | None) -> dict[str, Any]:
    """One strategy as listed; one that cannot be loaded or made is listed with its error."""
    try:
        cls = loaded.cls if loaded is not None else strategy_class(spec)
        model = loaded.params if loaded is not None else cls.Params()
        history = cls(model).history  # may depend on the parameters
    except Exception as error:
        return dict.fromkeys(("name", "timeframe", "history", "about"), None) | {
            "spec": spec,
            "configured": False,
            "symbols": [],
            "params": {},
            "error": str(error) if isinstance(error, StrategyError) else f"{type(error).__name__}: {error}",
        }
    about = (cls.__doc__ or inspect.getdoc(inspect.getmodule(cls)) or "").strip().split("\n", 1)[0]
    return {
        "spec": spec,
        "name": cls.name,
        "configured": loaded is not None,
        "symbols": list(cls.symbols),  # empty: every symbol the service trades
        "timeframe": cls.timeframe,
        "history": history,
        "params": model.model_dump(mode="json"),
        "about": about,
        "error": None,
    }
