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
import textwrap
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
from alchemiser.execution.sim.config import SimConfig
from alchemiser.portfolio.plan import RebalanceRules
from alchemiser.reporting.notify import NotifyConfig

DEFAULT_HOME = Path("~/.alchemiser")
WEIGHT_TOLERANCE = 1e-6


class ScheduleConfig(BaseModel):
    """`[schedule]`: when the daily run fires (here, not in `scheduling`, which loads APScheduler)."""

    model_config = ConfigDict(extra="forbid")

    minutes_before_close: int = Field(default=10, ge=1, le=389, description="run this long before each close")
    grace_minutes: int = Field(default=5, ge=1, le=60, description="a run may start this late (cron, misfires)")


def alchemiser_home() -> Path:
    return Path(os.environ.get("ALCHEMISER_HOME") or DEFAULT_HOME).expanduser()


class StrategyConfig(BaseModel):
    """One strategy and its share of the account."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="unique name, shown in reports")
    source: str = Field(
        default="",
        description="a built-in (nuclear, tecl, klm), a .clj path (relative to this file), or module:Class; "
        "default: the name",
    )
    weight: float = Field(gt=0, le=1, description="share of the account; the weights must add up to 1")

    @model_validator(mode="after")
    def _default_source(self) -> StrategyConfig:
        if not self.source:
            self.source = self.name
        return self


class DataConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dir: Path | None = Field(
        default=None, description="the local Parquet store; default $ALCHEMISER_HOME/data", examples=["~/market-data"]
    )
    sample_fallback: bool = Field(default=True, description="use the synthetic sample market for missing symbols")
    sample_seed: int = Field(default=20240601, description="seed of the synthetic sample market")


class AlpacaConfig(BaseModel):
    """Where Alpaca is. Keys are never here: they come from the environment or `secrets_file`.

    Paper trading is the only mode a configuration can select; live trading needs `--live` on the command
    line and a confirmation each time.
    """

    model_config = ConfigDict(extra="forbid")

    secrets_file: Path | None = Field(
        default=None,
        description="TOML with [alpaca] key_id/secret_key, chmod 600; default $ALCHEMISER_HOME/secrets.toml "
        "(or env ALPACA_API_KEY/ALPACA_SECRET_KEY)",
        examples=["~/.alchemiser/secrets.toml"],
    )
    trading_url: str | None = Field(
        default=None,
        description="default: Alpaca's paper API (env ALPACA_BASE_URL); e.g. a local `alchemiser sandbox serve`",
        examples=["http://127.0.0.1:8765"],
    )
    data_url: str | None = Field(
        default=None, description="default: Alpaca's data API (env ALPACA_DATA_URL)", examples=["http://127.0.0.1:8765"]
    )
    trading_stream_url: str | None = Field(
        default=None, description="order-update stream; default: derived from trading_url", examples=["ws://127.0.0.1:8765"]
    )
    data_stream_url: str | None = Field(
        default=None, description="quote stream; default: derived from data_url", examples=["ws://127.0.0.1:8765"]
    )
    feed: str | None = Field(default=None, description="market-data feed: iex (free plan) or sip", examples=["iex"])
    request_timeout_s: float = Field(default=20.0, gt=0, le=300, description="read timeout of each HTTP request")


class SignalsConfig(BaseModel):
    """Which prices a live decision reads (README: "When are prices read?")."""

    model_config = ConfigDict(extra="forbid")

    price: Literal["previous_close", "live"] = Field(
        default="previous_close",
        description="previous_close: decide on the last completed session's closes (T-1); live: the latest "
        "trade of every ticker as today's provisional close (falls back to the last close when the market is "
        "closed)",
    )
    max_live_age_s: float = Field(
        default=300.0,
        gt=0,
        le=86400,
        description="live: a ticker whose latest trade is older than this many seconds fails its strategy closed",
    )


def _default_strategies() -> list[StrategyConfig]:
    return [
        StrategyConfig(name="nuclear", source="nuclear", weight=0.4),
        StrategyConfig(name="tecl", source="tecl", weight=0.6),
    ]


class Settings(BaseSettings):
    """Everything configurable. Nested env vars use `__`, e.g. `ALCHEMISER_DATA__SAMPLE_FALLBACK=false`."""

    model_config = SettingsConfigDict(env_prefix="ALCHEMISER_", env_nested_delimiter="__", extra="forbid")

    home: Path = Field(
        default_factory=alchemiser_home,
        description="where data, the ledger and the simulated account live; default $ALCHEMISER_HOME or ~/.alchemiser",
        examples=["~/.alchemiser"],
    )
    strategies: list[StrategyConfig] = Field(
        default_factory=_default_strategies, description="the strategies and their shares of the account"
    )
    data: DataConfig = Field(default_factory=DataConfig, description="market data")
    broker: Literal["sim", "alpaca"] = Field(
        default="sim", description="sim: the built-in simulated broker (default); alpaca: Alpaca paper (or --live)"
    )
    alpaca: AlpacaConfig = Field(
        default_factory=AlpacaConfig, description="where Alpaca is; keys never go here (environment or secrets_file)"
    )
    sim: SimConfig = Field(default_factory=SimConfig, description="the built-in simulated exchange (broker = \"sim\")")
    rebalance: RebalanceRules = Field(default_factory=RebalanceRules, description="how target weights become trades")
    execution: ExecutionRules = Field(default_factory=ExecutionRules, description="how orders are placed and finished")
    rails: RailsConfig = Field(
        default_factory=RailsConfig, description="safety rails checked before every order (kill switch, caps)"
    )
    notify: NotifyConfig = Field(default_factory=NotifyConfig, description="one notification per run, through apprise")
    schedule: ScheduleConfig = Field(
        default_factory=ScheduleConfig, description="run-daily and the cron/systemd entries of `schedule --print`"
    )
    signals: SignalsConfig = Field(
        default_factory=SignalsConfig, description="which prices decisions read: previous closes or live prices"
    )
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

    @property
    def ledger_file(self) -> Path:
        """The SQLite ledger every run, pause and control action is recorded in."""
        return self.home / "ledger.sqlite"

    @property
    def cache_dir(self) -> Path:
        """Derived files that are safe to delete (rebuilt on demand), e.g. the sample market's bars."""
        return self.home.expanduser() / "cache"

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
            if source.endswith((".clj", ".edn", ".json", ".py")) or ".py:" in source:
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


EXAMPLE_HEADER = """\
# The Alchemiser configuration. Every key is optional; the values below are the defaults, and a
# commented-out key shows an example for a setting that is unset by default.
# Environment variables override the file: ALCHEMISER_HOME, ALCHEMISER_BROKER, ALCHEMISER_DATA__DIR, ...
"""
COMMENTED_OUT = frozenset({"home"})  # depends on the environment: writing it down would pin it
COMMENT_WIDTH = 100


def _toml_value(value: object) -> str:
    """One default as TOML. The defaults are plain scalars and lists of them; anything else is a bug here."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, str | Path):
        return json.dumps(str(value))  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _comment(text: str | None) -> list[str]:
    return [f"# {line}" for line in textwrap.wrap(text or "", COMMENT_WIDTH - 2)]


def _is_table(value: object) -> bool:
    return isinstance(value, BaseModel) or (isinstance(value, list) and bool(value) and isinstance(value[0], BaseModel))


def _keys(model: BaseModel, described: bool = True) -> list[str]:
    """`key = value` lines of a model's plain fields, each under its description; unset ones commented out."""
    lines: list[str] = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if _is_table(value):
            continue
        if described:
            lines += _comment(info.description)
        if value is None or name in COMMENTED_OUT:
            example = (info.examples or [value])[0]
            lines.append(f"# {name} = {_toml_value(example)}")
        else:
            lines.append(f"{name} = {_toml_value(value)}")
    return lines


def _tables(model: BaseModel, prefix: str = "") -> list[str]:
    """The model's nested models as `[table]`s and lists of models as `[[table]]`s, after its plain keys."""
    lines: list[str] = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        path = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            lines += ["", *_comment(info.description), f"[{path}]", *_keys(value), *_tables(value, f"{path}.")]
        elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
            lines += ["", *_comment(info.description)]
            for index, item in enumerate(value):  # the first item explains the keys; the rest repeat them
                lines += [f"[[{path}]]", *_keys(item, described=index == 0), *_tables(item, f"{path}."), ""]
            lines.pop()
    return lines


def example_config(settings: Settings | None = None) -> str:
    """The commented example `config init` writes, generated from the settings models themselves.

    Generating it (rather than keeping a hand-written copy) keeps it in step with the models: every key
    exists, every value is the real default, top-level keys come before the first table (TOML would
    otherwise file them under that table), and each key carries its field's description as a comment.
    """
    settings = settings or Settings.model_construct()  # the defaults, whatever the environment says
    return EXAMPLE_HEADER + "\n".join(["", *_keys(settings), *_tables(settings)]) + "\n"
