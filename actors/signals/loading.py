"""Finding, importing and checking strategies: the settings' specs to classes with validated parameters.

A spec is one of

* `builtin`: the built-in EMA crossover (also what `signals.builtin = true` adds first);
* `package.module:Class`: imported as a module, from the installed packages or the working directory;
* `path/to/file.py:Class`: the file loaded by path (relative to the working directory);
* `NAME`: a strategy an installed package exposes under the `quantum_trader.strategies` entry point.

Every problem (a missing file, module or class, an import that raises, a class that is not a `Strategy`, a bad or
duplicate name, an unknown parameter or one of the wrong type, symbols the service does not trade, a timeframe the
feed does not give) raises `StrategyError` with one message naming the strategy: `config check`, `run` and `replay`
turn it into exit code 2.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from actors.signals.builtin import EmaCrossoverStrategy
from actors.signals.strategy import NAME_PATTERN, Strategy, timeframe_ms
from config import FeedKind, Settings

ENTRY_POINT_GROUP = "quantum_trader.strategies"
BUILTIN = "builtin"
MAX_HISTORY = 10_000
RESERVED_NAMES = frozenset({"inbox"})  # the inbox's own source name


class StrategyError(ValueError):
    """Why a configured strategy cannot run; the message names it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedStrategy:
    """A strategy class found and checked, with its validated parameters and the symbols it will see."""

    spec: str
    name: str
    cls: type[Strategy[Any]]
    params: BaseModel
    symbols: tuple[str, ...]

    def make(self) -> Strategy[Any]:
        return self.cls(self.params)


def configured_specs(settings: Settings) -> tuple[str, ...]:
    """The specs the settings run: the built-in first when `signals.builtin`, then `signals.strategies`."""
    return ((BUILTIN,) if settings.signals.builtin else ()) + tuple(settings.signals.strategies)


def load_strategies(
    settings: Settings,
    specs: Sequence[str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[LoadedStrategy, ...]:
    """Load and check `specs` (default: the configured ones) with the settings' parameters, `overrides` over them.

    A `[signals.params.NAME]` table for a strategy that is not loaded is refused when `specs` is the configured list
    (a typo in a name would otherwise be silently ignored); with explicit specs (a replay's `--strategy`) only the
    tables of the strategies run are read."""
    explicit = specs is not None
    chosen = tuple(specs) if specs is not None else configured_specs(settings)
    tables: dict[str, dict[str, Any]] = {name: dict(table) for name, table in settings.signals.params.items()}
    for name, table in (overrides or {}).items():
        tables[name] = tables.get(name, {}) | dict(table)
    loaded: list[LoadedStrategy] = []
    for spec in chosen:
        cls = strategy_class(spec)
        if any(item.name == cls.name for item in loaded):
            raise StrategyError(f"strategy {cls.name!r} ({spec}): configured twice; each name runs once")
        loaded.append(
            LoadedStrategy(
                spec=spec,
                name=cls.name,
                cls=cls,
                params=_params(cls, spec, tables.get(cls.name, {})),
                symbols=_symbols(cls, spec, settings),
            )
        )
        _check_timeframe(cls, spec, settings)
    names = {item.name for item in loaded}
    unused = sorted(set(overrides or {}) - names) + ([] if explicit else sorted(set(settings.signals.params) - names))
    if unused:
        raise StrategyError(
            f"parameters given for {', '.join(map(repr, unused))}, which is not a strategy that runs "
            f"(running: {', '.join(sorted(names)) or 'none'})"
        )
    return tuple(loaded)


def strategy_class(spec: str) -> type[Strategy[Any]]:
    """The class a spec names, checked to be a `Strategy` with a valid name and parameter model."""
    if spec == BUILTIN:
        found: object = EmaCrossoverStrategy
    elif ":" in spec:
        where, _, attribute = spec.rpartition(":")
        module = _load_file(spec, Path(where)) if where.endswith(".py") else _import_module(spec, where)
        if not attribute.isidentifier():
            raise StrategyError(f"strategy {spec}: {attribute!r} is not a class name")
        found = getattr(module, attribute, None)
        if found is None:
            raise StrategyError(f"strategy {spec}: {where} has no {attribute!r}")
    else:
        found = _entry_point(spec)
    if not (isinstance(found, type) and issubclass(found, Strategy)):
        raise StrategyError(f"strategy {spec}: {found!r} is not a Strategy class (derive it from Strategy)")
    return _checked(found, spec)


def installed_specs() -> tuple[str, ...]:
    """The built-in and the names installed packages expose under the entry point, sorted."""
    return (BUILTIN, *sorted({point.name for point in entry_points(group=ENTRY_POINT_GROUP)}))


def valid_history(history: object) -> bool:
    return isinstance(history, int) and not isinstance(history, bool) and 1 <= history <= MAX_HISTORY


def effective_params(item: LoadedStrategy) -> dict[str, Any]:
    return item.params.model_dump(mode="json")


def _checked(cls: type[Strategy[Any]], spec: str) -> type[Strategy[Any]]:
    name = cls.name
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise StrategyError(
            f"strategy {spec}: name {name!r} is not 1 to 16 characters of a-z, 0-9, _ and -, starting with a letter"
        )
    if name in RESERVED_NAMES or (name == BUILTIN and cls is not EmaCrossoverStrategy):
        raise StrategyError(f"strategy {spec}: the name {name!r} is taken by the service's own signals")
    if not (isinstance(cls.Params, type) and issubclass(cls.Params, BaseModel)):
        raise StrategyError(f"strategy {name} ({spec}): Params must be a pydantic model class")
    if not valid_history(cls.history):
        raise StrategyError(f"strategy {name} ({spec}): history must be a whole number of candles from 1 to 10000")
    if cls.timeframe is not None and timeframe_ms(cls.timeframe) is None:
        raise StrategyError(f"strategy {name} ({spec}): timeframe {cls.timeframe!r} is not like 1m, 15m, 1h or 1d")
    if not (isinstance(cls.symbols, tuple) and all(isinstance(s, str) for s in cls.symbols)):
        raise StrategyError(f"strategy {name} ({spec}): symbols must be a tuple of symbol names")
    return cls


def _params(cls: type[Strategy[Any]], spec: str, table: Mapping[str, Any]) -> BaseModel:
    model = cls.Params
    unknown = sorted(set(table) - set(model.model_fields))
    if unknown:
        known = ", ".join(sorted(model.model_fields)) or "none"
        raise StrategyError(f"strategy {cls.name} ({spec}): unknown parameter(s) {', '.join(unknown)} (known: {known})")
    try:
        return model.model_validate(dict(table))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'params'}: {item['msg']}" for item in error.errors()
        )
        raise StrategyError(f"strategy {cls.name} ({spec}): bad parameter(s): {problems}") from None


def _symbols(cls: type[Strategy[Any]], spec: str, settings: Settings) -> tuple[str, ...]:
    if not cls.symbols:
        return tuple(settings.symbols)
    traded = tuple(symbol for symbol in cls.symbols if symbol in settings.symbols)
    if not traded:
        raise StrategyError(
            f"strategy {cls.name} ({spec}): wants {', '.join(cls.symbols)}, none of which the service trades "
            f"({', '.join(settings.symbols)})"
        )
    return traded


def _check_timeframe(cls: type[Strategy[Any]], spec: str, settings: Settings) -> None:
    # A file feed's interval is the files' own (checked against each candle as it comes); the others say theirs.
    wanted = cls.timeframe
    if wanted is not None and settings.feed.kind is not FeedKind.FILE and wanted != settings.feed.interval:
        raise StrategyError(
            f"strategy {cls.name} ({spec}): wants {wanted} candles, the feed gives {settings.feed.interval}"
        )


def _import_module(spec: str, module_name: str) -> object:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and module_name.startswith(error.name):
            raise StrategyError(f"strategy {spec}: no module named {error.name!r}") from None
        raise StrategyError(f"strategy {spec}: importing {module_name} failed: {described_error(error)}") from None
    except Exception as error:
        raise StrategyError(f"strategy {spec}: importing {module_name} failed: {described_error(error)}") from None


def _load_file(spec: str, path: Path) -> object:
    if not path.is_file():
        raise StrategyError(f"strategy {spec}: no such file {path}")
    resolved = path.resolve()
    # One module per file, named by its path: loading the same file twice gives the same classes.
    name = f"quantum_trader_strategy_{resolved.stem}_{hashlib.sha1(str(resolved).encode()).hexdigest()[:10]}"
    if name in sys.modules:
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise StrategyError(f"strategy {spec}: {path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # dataclasses and pydantic look their module up while the file runs
    try:
        module_spec.loader.exec_module(module)
    except BaseException as error:
        del sys.modules[name]
        if not isinstance(error, Exception):
            raise
        raise StrategyError(f"strategy {spec}: loading {path} failed: {described_error(error)}") from None
    return module


def _entry_point(spec: str) -> object:
    points = [point for point in entry_points(group=ENTRY_POINT_GROUP) if point.name == spec]
    if not points:
        installed = ", ".join(installed_specs())
        raise StrategyError(
            f"strategy {spec}: not 'module:Class', 'file.py:Class' nor an installed strategy (installed: {installed})"
        )
    try:
        return points[0].load()
    except Exception as error:
        raise StrategyError(f"strategy {spec}: loading its entry point failed: {described_error(error)}") from None


def described_error(error: BaseException) -> str:
    """An exception in one line: its type, message and where it was raised (file and line)."""
    if isinstance(error, SyntaxError):  # its message names the file and line already
        return f"{type(error).__name__}: {error}"
    where = ""
    traceback = error.__traceback__
    while traceback is not None:  # the innermost frame of Python code (not of importlib's machinery)
        name = traceback.tb_frame.f_code.co_filename
        if not name.startswith("<"):
            where = f" ({Path(name).name}, line {traceback.tb_lineno})"
        traceback = traceback.tb_next
    return f"{type(error).__name__}: {error}{where}"


def spec_names(loaded: Iterable[LoadedStrategy]) -> dict[str, str]:
    """name -> spec, for reports."""
    return {item.name: item.spec for item in loaded}
