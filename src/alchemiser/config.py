"""Settings from a TOML file plus `ALCHEMISER_*` environment variables, validated with clear messages.

Precedence, highest first: environment, the TOML file, built-in defaults. The file lives at
`$ALCHEMISER_HOME/config.toml` (home defaults to `~/.alchemiser`) unless `--config` names another; a missing
default file simply means "use the defaults", a missing explicit file is an error.
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from alchemiser.errors import ConfigError
from alchemiser.execution.rails import RailsConfig
from alchemiser.execution.rules import ExecutionRules
from alchemiser.execution.sim import SimConfig
from alchemiser.portfolio.plan import RebalanceRules
from alchemiser.reporting.notify import NotifyConfig
from alchemiser.scheduling import ScheduleConfig

DEFAULT_HOME = Path("~/.alchemiser")
WEIGHT_TOLERANCE = 1e-6


def alchemiser_home() -> Path:
    return Path(os.environ.get("ALCHEMISER_HOME") or DEFAULT_HOME).expanduser()


class StrategyConfig(BaseModel):
    """One strategy and its share of the account."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    source: str = Field(default="", description="built-in name (nuclear, tecl, klm), a .clj path, or module:Class")
    weight: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _default_source(self) -> StrategyConfig:
        if not self.source:
            self.source = self.name
        return self


class DataConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dir: Path | None = Field(default=None, description="local store; default $ALCHEMISER_HOME/data")
    sample_fallback: bool = Field(default=True, description="use the synthetic sample market for missing symbols")
    sample_seed: int = 20240601


class AlpacaConfig(BaseModel):
    """Where Alpaca is. Keys are never here: they come from the environment or `secrets_file`.

    Paper trading is the only mode a configuration can select; live trading needs `--live` on the command
    line and a confirmation each time.
    """

    model_config = ConfigDict(extra="forbid")

    secrets_file: Path | None = Field(default=None, description="TOML with [alpaca] key_id/secret_key (chmod 600)")
    trading_url: str | None = Field(default=None, description="default: Alpaca's paper API (env ALPACA_BASE_URL)")
    data_url: str | None = Field(default=None, description="default: Alpaca's data API (env ALPACA_DATA_URL)")
    trading_stream_url: str | None = None
    data_stream_url: str | None = None
    feed: str | None = Field(default=None, description="market-data feed: iex (free plan) or sip")
    request_timeout_s: float = Field(default=20.0, gt=0, le=300, description="read timeout of each HTTP request")


def _default_strategies() -> list[StrategyConfig]:
    return [
        StrategyConfig(name="nuclear", source="nuclear", weight=0.4),
        StrategyConfig(name="tecl", source="tecl", weight=0.6),
    ]


class Settings(BaseSettings):
    """Everything configurable. Nested env vars use `__`, e.g. `ALCHEMISER_DATA__SAMPLE_FALLBACK=false`."""

    model_config = SettingsConfigDict(env_prefix="ALCHEMISER_", env_nested_delimiter="__", extra="forbid")

    home: Path = Field(default_factory=alchemiser_home)
    strategies: list[StrategyConfig] = Field(default_factory=_default_strategies)
    data: DataConfig = Field(default_factory=DataConfig)
    broker: Literal["sim", "alpaca"] = Field(
        default="sim", description="sim: the built-in simulated broker (default); alpaca: Alpaca paper (or --live)"
    )
    alpaca: AlpacaConfig = Field(default_factory=AlpacaConfig)
    sim: SimConfig = Field(default_factory=SimConfig)
    rebalance: RebalanceRules = Field(default_factory=RebalanceRules)
    execution: ExecutionRules = Field(default_factory=ExecutionRules)
    rails: RailsConfig = Field(default_factory=RailsConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    on_strategy_failure: Literal["trade_nothing", "keep_holdings"] = Field(
        default="trade_nothing",
        description="trade_nothing: no trades when any strategy fails; keep_holdings: its share stays as held",
    )

    @field_validator("strategies")
    @classmethod
    def _weights_sum_to_one(cls, value: list[StrategyConfig]) -> list[StrategyConfig]:
        if not value:
            raise ValueError("at least one strategy is required")
        names = [s.name for s in value]
        if len(set(names)) != len(names):
            raise ValueError(f"strategy names must be unique, got {names}")
        total = sum(s.weight for s in value)
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            parts = " + ".join(f"{s.name} {s.weight:g}" for s in value)
            raise ValueError(f"strategy weights must add up to 1, but {parts} = {total:g}")
        return value

    @property
    def data_dir(self) -> Path:
        return (self.data.dir or self.home / "data").expanduser()

    # The TOML file is injected per load (see `load_settings`), below the environment.
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)


def default_config_path() -> Path:
    return alchemiser_home() / "config.toml"


def _format_errors(exc: ValidationError, where: str) -> str:
    lines = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        value = err.get("input")
        shown = "" if isinstance(value, dict | list) or value is None else f" (got {value!r})"
        lines.append(f"  {field}: {err['msg']}{shown}")
    return f"invalid configuration in {where}:\n" + "\n".join(lines)


def _resolve_sources(raw: dict[str, Any], base: Path) -> None:
    """Strategy file paths in the config are relative to the config file's folder."""
    items = raw.get("strategies")
    if not isinstance(items, list):  # a wrong type is reported by validation
        return
    for index, item in enumerate(items):
        if isinstance(item, dict):
            source = str(item.get("source") or "")
            if source.endswith((".clj", ".edn", ".py")) or ".py:" in source:
                path_part, sep, cls = source.partition(".py:")
                try:
                    if sep:
                        item["source"] = f"{(base / (path_part + '.py')).expanduser()}:{cls}"
                    elif not Path(source).expanduser().is_absolute():
                        item["source"] = str(base / source)
                except RuntimeError as exc:  # "~user/..." for a user that does not exist
                    raise ConfigError(f"strategies.{index}.source: cannot resolve {source!r}: {exc}") from None


def _non_finite(value: object, path: str) -> str | None:
    """The dotted path of the first NaN or infinite number in a validated settings dump, if any."""
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        items: Iterable[tuple[object, object]] = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _non_finite(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


def _env_error(exc: SettingsError) -> ConfigError:
    """pydantic-settings names only the top-level field whose environment value it could not parse; the
    user needs the variable, so find the `ALCHEMISER_<FIELD>[__…]` variables that are not valid JSON."""
    match = re.search(r'field "([^"]+)"', str(exc))
    prefix = f"ALCHEMISER_{(match.group(1) if match else '').upper()}"
    names = sorted(n for n in os.environ if n.upper() == prefix or n.upper().startswith(prefix + "__"))
    bad = [n for n in names if _not_json(os.environ[n])] or names or [prefix]
    cause = f" ({exc.__cause__})" if exc.__cause__ else ""
    return ConfigError(
        f"{', '.join(bad)}: not valid JSON{cause}; lists and tables in the environment are JSON, "
        """e.g. ALCHEMISER_STRATEGIES='[{"name":"klm","weight":1}]'"""
    )


def load_settings(path: Path | None = None) -> Settings:
    """Load and validate; every problem becomes one `ConfigError` listing each invalid field."""
    explicit = path is not None
    config_path = (path or default_config_path()).expanduser()
    raw: dict[str, Any] = {}
    if config_path.exists():
        try:
            raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: not valid TOML: {exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{config_path}: not valid TOML: the file is not UTF-8 ({exc})") from None
        except OSError as exc:
            raise ConfigError(f"cannot read {config_path}: {exc}") from None
        # `_env_file`, `_cli_parse_args`, ... are pydantic-settings constructor options, not settings
        private = sorted(key for key in raw if key.startswith("_"))
        if private:
            raise ConfigError(f"{config_path}: unknown setting(s): {', '.join(private)}")
        _resolve_sources(raw, config_path.parent)
    elif explicit:
        raise ConfigError(f"config file not found: {config_path}")
    where = f"{config_path if config_path.exists() else 'the environment'} (or ALCHEMISER_* environment variables)"
    try:
        settings = Settings(**raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, where)) from None
    except SettingsError as exc:
        raise _env_error(exc) from None
    bad = _non_finite(settings.model_dump(), "")  # NaN/inf pass `ge=`/`le=` bounds and model checks unnoticed
    if bad:
        raise ConfigError(f"invalid configuration in {where}:\n  {bad}: must be a finite number")
    return settings


EXAMPLE_CONFIG = """\
# The Alchemiser configuration. Every key is optional; these are the defaults.
# Environment variables override the file: ALCHEMISER_HOME, ALCHEMISER_DATA__DIR, ...

[[strategies]]
name = "nuclear"
source = "nuclear"        # a built-in (nuclear, tecl, klm), a .clj file, or module:Class
weight = 0.4

[[strategies]]
name = "tecl"
source = "tecl"
weight = 0.6

[data]
# dir = "~/.alchemiser/data"   # the local Parquet store
sample_fallback = true         # symbols missing from the store come from the synthetic sample market
sample_seed = 20240601

broker = "sim"                       # "sim" (state in $ALCHEMISER_HOME/sim.sqlite) or "alpaca" (paper)
on_strategy_failure = "trade_nothing"  # or "keep_holdings": a failed strategy's share stays as it is held

[sim]
starting_cash = 100000
spread_bps = 5.0                # full bid-ask spread
ack_latency_ms = 0
fill_latency_ms = [0, 0]
partial_fill_probability = 0.0
non_fractionable = []           # symbols the simulated broker treats as whole-share only

[alpaca]
# secrets_file = "~/.alchemiser/secrets.toml"   # [alpaca] key_id/secret_key; or env ALPACA_API_KEY/ALPACA_SECRET_KEY
# trading_url = "http://127.0.0.1:8765"          # e.g. a local `alchemiser sandbox serve`; default: paper API
# data_url = "http://127.0.0.1:8765"
# feed = "iex"

[rebalance]
min_trade_usd = 10              # skip smaller trades
drift_band_pct = 0.0            # skip symbols within this many percentage points of target
cash_buffer_pct = 0.2           # percent of equity kept in cash
full_exit_fraction = 0.99       # a trim of at least this fraction of a position closes it

[execution]
buy_mode = "limit"              # "limit": marketable limit from a live quote; "notional": dollar market orders
limit_spread_fraction = 0.75    # limit = bid + 0.75 x spread
limit_timeout_s = 15            # then cancel and finish the unfilled remainder
on_limit_timeout = "market"     # or "reprice" (up to max_reprices rounds)
max_reprices = 2
sell_timeout_s = 60
poll_interval_s = 2             # safety-net polling while waiting for order events
block_buys_on_failed_sells_usd = 100

[rails]
max_order_pct_equity = 100            # refuse any single order larger than this share of equity
max_daily_traded_pct_equity = 400     # refuse trading past this much in one trading day (a rotation is 200)
# kill_switch_file = "~/.alchemiser/KILL"   # while it exists (or ALCHEMISER_KILL_SWITCH=1), no order is placed

[notify]
urls = []                       # apprise URLs: "ntfy://my-topic", "mailto://user:pass@gmail.com", "json://host/hook"…
repeat_failure_window_minutes = 360
on = ["ok", "nothing_to_do", "failure"]

[schedule]
minutes_before_close = 10       # run-daily fires this long before each NYSE close (early closes honoured)
grace_minutes = 5
"""
