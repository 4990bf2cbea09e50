"""Alpaca credentials and endpoints: where they come from, and how they are kept out of logs.

Why a module of its own: keys are the one piece of configuration that must never be printed, logged or
committed, so they do not live in `Settings` (which is dumped by `config show`). They come from the
environment (what containers and CI provide) or from a TOML file only its owner can read.

Endpoints are separate from keys because the same keys talk to several hosts (trading REST, trade-update
stream, market-data REST, market-data stream), and pointing all of them somewhere else — Alpaca's live API,
or our local sandbox — must be a matter of configuration, not code.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, field_validator, model_validator

from alchemiser.errors import ConfigError
from alchemiser.logs import mask

PAPER_TRADING_URL = "https://paper-api.alpaca.markets"
LIVE_TRADING_URL = "https://api.alpaca.markets"
DATA_URL = "https://data.alpaca.markets"
# Alpaca serves market-data streams from another host than market-data REST.
DATA_STREAM_URL = "wss://stream.data.alpaca.markets"
FEEDS = ("iex", "sip", "delayed_sip", "boats", "overnight", "otc", "test")

_ENV_PAIRS = (("ALPACA_API_KEY", "ALPACA_SECRET_KEY"), ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY"))
_HIDDEN = "***"


class AlpacaCredentials(BaseModel):
    """An API key pair. Both halves are `SecretStr` and the repr/str name only where they came from.

    `source` ("env ALPACA_API_KEY", a file path, "explicit") is there so error messages can tell the user
    which credentials were rejected without showing them.
    """

    model_config = ConfigDict(frozen=True)

    key_id: SecretStr
    secret_key: SecretStr
    source: str = "explicit"

    @field_validator("key_id", "secret_key")
    @classmethod
    def _not_blank(cls, v: SecretStr) -> SecretStr:
        if not v.get_secret_value().strip():
            raise ValueError("must not be empty")
        return SecretStr(v.get_secret_value().strip())

    @classmethod
    def of(cls, key_id: str, secret_key: str, source: str = "explicit") -> AlpacaCredentials:
        """Build from plain strings (tests, the sandbox) without spelling out `SecretStr`."""
        return cls(key_id=SecretStr(key_id), secret_key=SecretStr(secret_key), source=source)

    def __repr__(self) -> str:
        return f"AlpacaCredentials(key_id={_HIDDEN}, secret_key={_HIDDEN}, source={self.source!r})"

    def __str__(self) -> str:
        return f"Alpaca credentials from {self.source}"


def _pair_from_env(env: Mapping[str, str]) -> AlpacaCredentials | None:
    for key_var, secret_var in _ENV_PAIRS:
        key, secret = (env.get(key_var) or "").strip(), (env.get(secret_var) or "").strip()
        if key and secret:
            return AlpacaCredentials.of(key, secret, f"environment ({key_var}/{secret_var})")
        if key or secret:
            have, missing = (key_var, secret_var) if key else (secret_var, key_var)
            raise ConfigError(f"{have} is set but {missing} is not: set both, or neither")
    return None


def _check_private(path: Path) -> None:
    """Refuse a secrets file others can read: a leaked key trades the account."""
    if os.name != "posix":
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path} is accessible by group/others (mode {stat.S_IMODE(mode):o}); restrict it with `chmod 600 {path}`"
        )


def _pair_from_file(path: Path) -> AlpacaCredentials:
    path = path.expanduser()
    if not path.is_file():
        raise ConfigError(f"secrets file {path} does not exist")
    _check_private(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        # The decoder's message names a line and column, never the content.
        raise ConfigError(f"cannot read secrets file {path}: {exc}") from None
    table = data.get("alpaca")
    if not isinstance(table, dict):
        raise ConfigError(f'{path} has no [alpaca] table (expected key_id = "..." and secret_key = "...")')
    key, secret = table.get("key_id"), table.get("secret_key")
    if not isinstance(key, str) or not isinstance(secret, str) or not key.strip() or not secret.strip():
        raise ConfigError(f"{path}: [alpaca] needs non-empty string values key_id and secret_key")
    return AlpacaCredentials.of(key, secret, str(path))


def load_credentials(secrets_file: Path | None, env: Mapping[str, str] | None = None) -> AlpacaCredentials:
    """The key pair, first found wins: ALPACA_API_KEY/ALPACA_SECRET_KEY, then Alpaca's own
    APCA_API_KEY_ID/APCA_API_SECRET_KEY, then the `[alpaca]` table of `secrets_file` (mode 600).

    Raises `ConfigError` with what to set when nothing is found, when only half a pair is set, or when the
    file is unreadable, malformed or readable by others.
    """
    environ = os.environ if env is None else env
    found = _pair_from_env(environ)
    if found is not None:
        return found
    if secrets_file is not None:
        return _pair_from_file(secrets_file)
    raise ConfigError(
        "no Alpaca credentials: set ALPACA_API_KEY and ALPACA_SECRET_KEY (or APCA_API_KEY_ID and "
        'APCA_API_SECRET_KEY), or write them to a secrets file as [alpaca] key_id = "...", '
        'secret_key = "..." and `chmod 600` it'
    )


def redact(text: str, creds: AlpacaCredentials | None) -> str:
    """`text` with the key id and secret replaced by "***": run every message that may echo a request
    (exception texts, server replies) through this before it reaches a log or the user."""
    if creds is None:
        return text
    return mask(text, (creds.secret_key.get_secret_value(), creds.key_id.get_secret_value()))


# ---------------------------------------------------------------------------------------------- endpoints


def _strip(url: str) -> str:
    return url.strip().rstrip("/")


def _ws(url: str) -> str:
    """http→ws, https→wss; ws/wss pass through."""
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


class AlpacaEndpoints(BaseModel):
    """Where each Alpaca service lives, in the exact form alpaca-py's `url_override` expects.

    alpaca-py appends `/v2` to the REST bases itself, so `trading_url` and `data_url` are bare hosts (a
    trailing `/v2` given by the user is removed). It appends nothing to an overridden stream URL, so the
    stream URLs are complete: `trading_stream_url` ends in `/stream`, `data_stream_url` in `/v2/<feed>`.
    Unless set, they are derived: trading stream = trading host with ws(s) + `/stream`; data stream =
    Alpaca's stream host for the default data host, else the data host with ws(s), + `/v2/<feed>`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    trading_url: str = PAPER_TRADING_URL
    data_url: str = DATA_URL
    trading_stream_url: str = ""
    data_stream_url: str = ""
    feed: str = "iex"

    @model_validator(mode="before")
    @classmethod
    def _derive(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        v = {k: val for k, val in values.items() if val is not None and val != ""}
        trading = _strip(str(v.get("trading_url", PAPER_TRADING_URL))).removesuffix("/v2")
        data = _strip(str(v.get("data_url", DATA_URL))).removesuffix("/v2")
        feed = str(v.get("feed", "iex")).strip().lower()
        for name, url in (("trading_url", trading), ("data_url", data)):
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{name} must start with http:// or https://, got {url!r}")
        v["trading_url"], v["data_url"], v["feed"] = trading, data, feed
        v["trading_stream_url"] = _strip(str(v.get("trading_stream_url") or _ws(trading) + "/stream"))
        data_ws = DATA_STREAM_URL if data == DATA_URL else _ws(data)
        v["data_stream_url"] = _strip(str(v.get("data_stream_url") or f"{data_ws}/v2/{feed}"))
        for name in ("trading_stream_url", "data_stream_url"):
            if not v[name].startswith(("ws://", "wss://")):
                raise ValueError(f"{name} must start with ws:// or wss://, got {v[name]!r}")
        return v

    @field_validator("feed")
    @classmethod
    def _known_feed(cls, v: str) -> str:
        if v not in FEEDS:
            raise ValueError(f"unknown data feed {v!r}; use one of {', '.join(FEEDS)}")
        return v

    @property
    def is_local(self) -> bool:
        """True when trading goes to a loopback host (the sandbox): no real account is touched."""
        host = self.trading_url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
        return host in ("127.0.0.1", "localhost", "[::1]")


_ENV_URLS = (
    ("trading_url", ("ALPACA_BASE_URL", "APCA_API_BASE_URL")),
    ("data_url", ("ALPACA_DATA_URL", "APCA_API_DATA_URL")),
    ("trading_stream_url", ("ALPACA_STREAM_URL",)),
    ("data_stream_url", ("ALPACA_DATA_STREAM_URL",)),
    ("feed", ("ALPACA_DATA_FEED",)),
)


def resolve_endpoints(
    paper: bool, overrides: Mapping[str, str | None] | None = None, env: Mapping[str, str] | None = None
) -> AlpacaEndpoints:
    """Endpoints for paper or live trading. Precedence, highest first (as for the rest of the config):
    environment (ALPACA_BASE_URL or APCA_API_BASE_URL, ALPACA_DATA_URL, ALPACA_STREAM_URL,
    ALPACA_DATA_STREAM_URL, ALPACA_DATA_FEED), then `overrides` (the config file: trading_url, data_url,
    trading_stream_url, data_stream_url, feed), then Alpaca's paper or live defaults.

    Refuses the live trading host in paper mode and the paper host in live mode: a mismatch means the
    configuration does not say what the user thinks it says.
    """
    environ = os.environ if env is None else env
    values: dict[str, str] = {"trading_url": PAPER_TRADING_URL if paper else LIVE_TRADING_URL}
    for name, value in (overrides or {}).items():
        if value:
            values[name] = value
    for name, variables in _ENV_URLS:
        for var in variables:
            if environ.get(var, "").strip():
                values[name] = environ[var].strip()
                break
    try:
        endpoints = AlpacaEndpoints.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'endpoints'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid Alpaca endpoints: {problems}") from None
    if paper and endpoints.trading_url == LIVE_TRADING_URL:
        raise ConfigError(f"paper trading is selected but the trading URL is the live API ({LIVE_TRADING_URL})")
    if not paper and endpoints.trading_url == PAPER_TRADING_URL:
        raise ConfigError(f"live trading is selected but the trading URL is the paper API ({PAPER_TRADING_URL})")
    return endpoints
