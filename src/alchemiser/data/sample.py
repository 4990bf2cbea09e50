"""A deterministic synthetic daily market, so the bot runs, backtests and tests offline with no shipped data.

The model is a small factor market on real NYSE sessions from 2004-01-02:

* a market factor with bull/bear regimes, GJR-GARCH volatility (falls raise volatility), Student-t
  shocks and rare crash jumps;
* sector factors (tech, semis, financials, energy, retail, biotech, staples, comms, utilities, nuclear,
  small caps, value) whose noise widens with the market's volatility;
* a short rate (0–5.5%, cut in bear markets) and a long yield whose daily changes move with stocks in
  stress (flight to quality); bond funds are priced from duration and carry;
* gold, silver, the dollar and commodities; single stocks as beta + idiosyncratic noise;
* leveraged/inverse funds from their underlying's *daily* return times the multiple, less a fee;
* a VIX level driven by the market's conditional volatility, and VIX-futures funds that lose a
  contango roll in calm markets and spike when the market falls.

Prefix stability: every random stream is keyed by (seed, name) and drawn for a fixed weekday horizon
(2004 to 2040), each session taking the draw of its weekday; all recursions are causal and prices are
anchored on a fixed date (2024-12-31). So moving `end` later only appends rows; earlier bars never change.
Anchoring means decaying products (UVXY, SQQQ…) show very large prices early on, as real adjusted data does.
"""

from __future__ import annotations

import datetime as dt
import math
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from alchemiser.data.bars import DailyBars, DayArray, day
from alchemiser.data.base import SAMPLE_NOTICE, Source, SymbolInfo
from alchemiser.data.sample_cache import SampleCache
from alchemiser.errors import DataError
from alchemiser.indicators import ewm_mean
from alchemiser.market_calendar import last_completed_session, session_days

if TYPE_CHECKING:
    import pandas as pd

START = dt.date(2004, 1, 2)
HORIZON_END = dt.date(2040, 12, 31)
ANCHOR = dt.date(2024, 12, 31)
DEFAULT_SEED = 20240601
YEAR = 252.0
_N_WEEKDAYS = int(np.busday_count(START, HORIZON_END + dt.timedelta(days=1)))
_MIN_RETURN = -0.95  # a fund can lose almost everything in a day, never go negative

Kind = Literal["linear", "bond", "bill", "lev", "trend"]
Array = np.ndarray


@dataclass(frozen=True)
class _Spec:
    """How one symbol's daily returns are made, plus its anchor price and typical volume."""

    symbol: str
    kind: Kind
    price: float
    volume: float
    betas: dict[str, float] = field(default_factory=dict)
    alpha: float = 0.0  # annual drift on top of the factors
    idio: float = 0.0  # annual idiosyncratic volatility
    fee: float = 0.0  # annual expense ratio
    under: str = ""
    mult: float = 1.0
    duration: float = 0.0
    desc: str = ""


def _lin(
    sym: str,
    price: float,
    vol_m: float,
    betas: dict[str, float],
    idio: float,
    fee: float = 0.0,
    alpha: float = 0.0,
    desc: str = "",
) -> _Spec:
    return _Spec(sym, "linear", price, vol_m * 1e6, betas, alpha, idio, fee, desc=desc)


def _lev(sym: str, under: str, mult: float, fee: float, price: float, vol_m: float, desc: str = "") -> _Spec:
    return _Spec(sym, "lev", price, vol_m * 1e6, under=under, mult=mult, fee=fee, desc=desc)


def _bond(sym: str, duration: float, fee: float, price: float, vol_m: float, credit: float = 0.0) -> _Spec:
    betas = {"mkt": credit} if credit else {}
    desc = f"bond fund, duration {duration:g}y: carry minus duration × yield change, {fee * 100:.2f}%/yr fee"
    if credit:
        desc += f", credit beta {credit:g} to the market"
    return _Spec(sym, "bond", price, vol_m * 1e6, betas, idio=0.004, fee=fee, duration=duration, desc=desc)


_VIX_ST = "_VIX_ST"  # short-term VIX futures index (internal, not a symbol)
_VIX_MT = "_VIX_MT"  # mid-term VIX futures index

_SPECS: tuple[_Spec, ...] = (
    # Broad equity
    _lin(
        "SPY",
        590,
        60,
        {"mkt": 1.0},
        0.004,
        0.0009,
        desc="S&P 500: the market factor (bull/bear regimes, GJR-GARCH volatility, fat tails, crashes)",
    ),
    _lin("VOO", 540, 6, {"mkt": 1.0}, 0.004, 0.0003, desc="S&P 500 (same market factor as SPY)"),
    _lin("DIA", 425, 4, {"mkt": 0.95, "value": 0.3}, 0.03, 0.0016),
    _lin("IWM", 220, 30, {"mkt": 1.15, "small": 1.0}, 0.01, 0.0019),
    _lin("IOO", 100, 0.2, {"mkt": 0.95, "dollar": -0.3}, 0.04, 0.004),
    _lin("EFA", 78, 15, {"mkt": 0.85, "dollar": -0.6}, 0.07, 0.0035),
    _lin("EEM", 42, 30, {"mkt": 1.05, "dollar": -0.8}, 0.12, 0.007),
    _lin("QQQ", 510, 40, {"mkt": 1.1, "tech": 0.9, "comms": 0.25}, 0.008, 0.002),
    _lin("QQQE", 95, 0.1, {"mkt": 1.05, "tech": 0.6}, 0.02, 0.0035),
    _lin("VTV", 170, 3, {"mkt": 0.9, "value": 1.0}, 0.01, 0.0004),
    _lin("VOOV", 190, 0.1, {"mkt": 0.9, "value": 1.0}, 0.015, 0.001),
    _lin("VOOG", 350, 0.2, {"mkt": 1.05, "tech": 0.35, "value": -0.5}, 0.015, 0.001),
    _lin("SPLV", 72, 3, {"mkt": 0.65, "staples": 0.35, "util": 0.3}, 0.02, 0.0025),
    _lin("FTLS", 65, 0.2, {"mkt": 0.5}, 0.05, 0.0146, alpha=0.03, desc="long/short equity: beta 0.5 + alpha"),
    _lin(
        "BTAL",
        20,
        0.5,
        {"mkt": -0.55, "small": -0.3},
        0.07,
        0.0145,
        alpha=0.03,
        desc="anti-beta: market beta -0.55, short small caps",
    ),
    # Sectors
    _lin("XLK", 230, 8, {"mkt": 1.05, "tech": 1.0}, 0.01, 0.0009),
    _lin("SOXX", 220, 4, {"mkt": 1.25, "tech": 0.8, "semi": 1.0}, 0.015, 0.0035),
    _lin("XLF", 49, 40, {"mkt": 1.1, "fin": 1.0}, 0.01, 0.0009),
    _lin("XLE", 86, 15, {"mkt": 0.85, "energy": 1.0}, 0.01, 0.0009),
    _lin("XRT", 78, 5, {"mkt": 1.1, "retail": 1.0}, 0.02, 0.0035),
    _lin("XLY", 225, 4, {"mkt": 1.05, "retail": 0.5, "tech": 0.2}, 0.01, 0.0009),
    _lin("XLP", 80, 10, {"mkt": 0.6, "staples": 1.0}, 0.01, 0.0009),
    _lin("XLU", 78, 12, {"mkt": 0.55, "util": 1.0}, 0.01, 0.0009),
    _lin("XLV", 135, 8, {"mkt": 0.75, "bio": 0.3, "staples": 0.3}, 0.02, 0.0009),
    _lin("XLI", 130, 9, {"mkt": 1.05, "value": 0.3}, 0.02, 0.0009),
    _lin("VOX", 155, 0.3, {"mkt": 0.9, "comms": 1.0}, 0.02, 0.001),
    _lin("XBI", 90, 8, {"mkt": 1.1, "bio": 1.0}, 0.02, 0.0035),
    _lin("VNQ", 88, 5, {"mkt": 1.0, "fin": 0.4, "util": 0.3}, 0.10, 0.0013),
    _lin("NLR", 95, 0.1, {"mkt": 0.8, "nuclear": 0.6, "util": 0.5}, 0.05, 0.006),
    _lin(
        "FNGS",
        55,
        0.3,
        {"mkt": 1.2, "tech": 1.0, "comms": 0.6},
        0.10,
        0.0058,
        desc="FANG+ basket: market 1.2 + tech 1.0 + comms 0.6, 10% idiosyncratic vol",
    ),
    # Single stocks
    _lin("AAPL", 250, 50, {"mkt": 1.15, "tech": 0.9}, 0.22, alpha=0.08),
    _lin("MSFT", 420, 20, {"mkt": 1.05, "tech": 0.9}, 0.18, alpha=0.05),
    _lin("GOOGL", 190, 25, {"mkt": 1.1, "tech": 0.6, "comms": 0.8}, 0.22, alpha=0.04),
    _lin("AMZN", 220, 40, {"mkt": 1.2, "tech": 0.6, "retail": 0.6}, 0.28, alpha=0.06),
    _lin("NVDA", 135, 200, {"mkt": 1.4, "tech": 0.8, "semi": 1.3}, 0.35, alpha=0.18),
    _lin("TSLA", 400, 90, {"mkt": 1.6, "tech": 0.5, "retail": 0.4}, 0.50, alpha=0.20),
    _lin("BWXT", 112, 0.8, {"mkt": 0.9, "nuclear": 0.6}, 0.22, alpha=0.04),
    _lin("LEU", 65, 0.5, {"mkt": 1.1, "nuclear": 1.3}, 0.55, alpha=0.15),
    _lin("OKLO", 23, 10, {"mkt": 1.3, "nuclear": 1.5}, 0.75, alpha=0.25),
    _lin("SMR", 18, 10, {"mkt": 1.3, "nuclear": 1.4}, 0.70, alpha=0.20),
    _lin("EXC", 38, 6, {"mkt": 0.5, "util": 1.0}, 0.15, alpha=0.01),
    # Commodities and currency
    _lin("GLD", 242, 8, {"gold": 1.0}, 0.005, 0.004, desc="gold: 15% vol, mildly up when stocks fall"),
    _lin(
        "SLV", 26, 20, {"gold": 1.4, "mkt": 0.2}, 0.15, 0.005, desc="silver: 1.4× gold + market 0.2 + noise"
    ),
    _lin("UUP", 29, 2, {"dollar": 1.0}, 0.01, 0.0078, desc="US dollar index: 7% vol, up in stress"),
    _lin("PDBC", 13, 4, {"mkt": 0.3, "energy": 0.7, "gold": 0.2, "dollar": -0.3}, 0.05, 0.0059),
    _lin("USO", 75, 4, {"mkt": 0.3, "energy": 1.4}, 0.10, 0.006),
    # Rates
    _Spec(
        "BIL",
        "bill",
        91.5,
        8e6,
        fee=0.0014,
        desc="T-bill fund: accrues the short rate (a slow 0–5.5% path), tiny noise, 0.14%/yr fee",
    ),
    _bond("SHY", 1.9, 0.0015, 82, 3),
    _bond("BSV", 2.6, 0.0004, 78, 2),
    _bond("AGG", 6.0, 0.0003, 97, 7, credit=0.03),
    _bond("BND", 6.1, 0.0003, 72, 6, credit=0.03),
    _bond("IEF", 7.5, 0.0015, 92, 8),
    _bond("LQD", 8.5, 0.0014, 108, 20, credit=0.08),
    _bond("TLT", 16.5, 0.0015, 87, 40),
    _Spec(
        "KMLM",
        "trend",
        26,
        0.2e6,
        fee=0.009,
        idio=0.03,
        desc="managed futures: 63-day trend signs on stocks, long bonds, gold, dollar, energy",
    ),
    # Volatility
    _lev(
        "VIXY",
        _VIX_ST,
        1.0,
        0.0085,
        45,
        5,
        desc="short-term VIX futures: 0.55 × VIX log-change minus contango roll (~6%/month when calm)",
    ),
    _lev("VXX", _VIX_ST, 1.0, 0.0089, 50, 5, desc="short-term VIX futures (as VIXY), 0.89%/yr fee"),
    _lev(
        "VIXM",
        _VIX_MT,
        1.0,
        0.0085,
        45,
        0.3,
        desc="mid-term VIX futures: 0.28 × VIX log-change minus a third of the roll",
    ),
    _lev("UVXY", _VIX_ST, 1.5, 0.0095, 28, 30, desc="1.5x daily short-term VIX futures, 0.95%/yr fee"),
    _lev("UVIX", _VIX_ST, 2.0, 0.0225, 6, 20, desc="2x daily short-term VIX futures, 2.25%/yr fee"),
    _lev("SVXY", _VIX_ST, -0.5, 0.0095, 47, 1, desc="-0.5x daily short-term VIX futures, 0.95%/yr fee"),
    _lev("SVIX", _VIX_ST, -1.0, 0.0135, 28, 2, desc="-1x daily short-term VIX futures, 1.35%/yr fee"),
    # Leveraged and inverse
    _lev("TQQQ", "QQQ", 3, 0.0084, 80, 60),
    _lev("QLD", "QQQ", 2, 0.0095, 100, 3),
    _lev("PSQ", "QQQ", -1, 0.0095, 38, 6),
    _lev("QID", "QQQ", -2, 0.0095, 27, 3),
    _lev("SQQQ", "QQQ", -3, 0.0095, 30, 80),
    _lev("UPRO", "SPY", 3, 0.0091, 90, 5),
    _lev("SPXL", "SPY", 3, 0.0087, 170, 6),
    _lev("SSO", "SPY", 2, 0.0089, 95, 3),
    _lev("SH", "SPY", -1, 0.0089, 40, 8),
    _lev("SDS", "SPY", -2, 0.0089, 17, 10),
    _lev("SPXU", "SPY", -3, 0.0089, 17, 15),
    _lev("TECL", "XLK", 3, 0.0085, 95, 1),
    _lev("SOXL", "SOXX", 3, 0.0075, 25, 60),
    _lev("FAS", "XLF", 3, 0.0089, 150, 1),
    _lev("ERX", "XLE", 2, 0.0095, 60, 0.5),
    _lev("RETL", "XRT", 3, 0.0095, 9, 0.3),
    _lev("LABU", "XBI", 3, 0.0095, 110, 2),
    _lev("LABD", "XBI", -3, 0.0095, 7, 10),
    _lev("TZA", "IWM", -3, 0.0104, 15, 15),
    _lev("TMF", "TLT", 3, 0.0091, 40, 8),
    _lev("TMV", "TLT", -3, 0.0095, 40, 2),
    _lev("TBT", "TLT", -2, 0.009, 35, 2),
    _lev("FNGU", "FNGS", 3, 0.0095, 500, 1),
    _lev("FNGO", "FNGS", 2, 0.0095, 100, 0.05),
)

_BY_SYMBOL: dict[str, _Spec] = {s.symbol: s for s in _SPECS}
SAMPLE_SYMBOLS: tuple[str, ...] = tuple(sorted(_BY_SYMBOL))


def _describe(spec: _Spec) -> str:
    if spec.desc:
        return spec.desc
    if spec.kind == "lev":
        return f"{spec.mult:g}x daily {spec.under}, {spec.fee * 100:.2f}%/yr fee"
    parts = [f"{name} {beta:g}" for name, beta in spec.betas.items()]
    text = "beta: " + ", ".join(parts) + f"; {spec.idio * 100:g}% idiosyncratic vol"
    if spec.alpha:
        text += f"; alpha {spec.alpha * 100:+g}%/yr"
    return text


def describe_sample() -> list[tuple[str, str]]:
    """(symbol, how the sample models it), sorted by symbol: what a user needs to judge sample results."""
    return [(sym, _describe(_BY_SYMBOL[sym])) for sym in SAMPLE_SYMBOLS]


class _Draws:
    """Random numbers for each session, keyed by name: one stream per (seed, key), indexed by weekday."""

    def __init__(self, seed: int, positions: Array) -> None:
        self.seed = seed
        self.pos = positions

    def _rng(self, key: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(key.encode())])

    def normal(self, key: str) -> Array:
        out: Array = self._rng(key).standard_normal(_N_WEEKDAYS)[self.pos]
        return out

    def student(self, key: str, df: float) -> Array:
        """Unit-variance Student-t: fat tails without changing the volatility scale."""
        out: Array = self._rng(key).standard_t(df, _N_WEEKDAYS)[self.pos] / math.sqrt(df / (df - 2.0))
        return out

    def uniform(self, key: str) -> Array:
        out: Array = self._rng(key).random(_N_WEEKDAYS)[self.pos]
        return out

    def exponential(self, key: str) -> Array:
        out: Array = self._rng(key).standard_exponential(_N_WEEKDAYS)[self.pos]
        return out


# Market regime and volatility parameters (daily units unless noted).
_MU = {False: 0.13 / YEAR, True: -0.30 / YEAR}
_LR_VAR = {False: 0.14**2 / YEAR, True: 0.30**2 / YEAR}
_P_ENTER_BEAR = 1.0 / (YEAR * 5.0)
_P_EXIT_BEAR = 1.0 / (YEAR * 0.6)
_P_JUMP = 0.0012
_GARCH_A, _GARCH_G, _GARCH_B = 0.03, 0.10, 0.90
_PERSIST = _GARCH_A + _GARCH_G / 2 + _GARCH_B

# Sector residual factors: (annual drift, annual vol).
_SECTORS: dict[str, tuple[float, float]] = {
    "tech": (0.03, 0.09),
    "semi": (0.03, 0.15),
    "fin": (-0.01, 0.10),
    "energy": (0.0, 0.22),
    "retail": (0.0, 0.10),
    "bio": (0.0, 0.20),
    "staples": (0.01, 0.07),
    "comms": (0.0, 0.09),
    "util": (0.01, 0.10),
    "nuclear": (0.04, 0.25),
    "small": (-0.005, 0.08),
    "value": (0.0, 0.05),
}


def _core(d: _Draws, n: int) -> dict[str, Array]:
    """The sequential part: regime, market returns, conditional variance, short rate and long yield."""
    z = d.student("mkt", 5.0)
    u_reg, u_jump, j_size = d.uniform("regime"), d.uniform("jump"), d.exponential("jump-size")
    z_short, z_long, z_vix = d.normal("short-rate"), d.normal("long-yield"), d.normal("vix-noise")
    mkt, h_today, h_next = np.empty(n), np.empty(n), np.empty(n)
    bear_arr, short, long_y, dy = np.empty(n, dtype=bool), np.empty(n), np.empty(n), np.empty(n)
    vix_noise = np.empty(n)
    bear, h, x, y, ou = False, _LR_VAR[False], -0.75, 0.045, 0.0
    for t in range(n):
        # Regime switch first: a bear market lasts ~0.6 years on average, a bull ~5.
        bear = bool(u_reg[t] >= _P_EXIT_BEAR) if bear else bool(u_reg[t] < _P_ENTER_BEAR)
        sd = math.sqrt(h)
        eps = sd * z[t]
        if u_jump[t] < _P_JUMP:
            eps -= min(0.035 + 0.025 * j_size[t], 0.20)
        mkt[t] = _MU[bear] + eps
        h_today[t] = h
        h = _LR_VAR[bear] * (1 - _PERSIST) + (_GARCH_A + (_GARCH_G if eps < 0 else 0.0)) * eps * eps
        h = min(h + _GARCH_B * h_today[t], 0.08**2)
        h_next[t] = h
        bear_arr[t] = bear
        # Short rate: slow mean-reverting latent, cut in bear markets, clipped to [0, 5.5%].
        x = x * (1 - 1 / (YEAR * 10)) + 0.03 * z_short[t] + (-0.004 if bear else 0.0004)
        s = min(max(0.025 + 0.02 * x, 0.0), 0.055)
        short[t] = s
        # Long yield: falls when stocks fall (more so in bear markets), reverts to short + 1.2%.
        shock = max(min(eps / sd, 6.0), -6.0)
        rho = 0.6 if bear else 0.3
        vr = math.sqrt(h_today[t] / _LR_VAR[False])
        change = 0.0006 * math.sqrt(vr) * (rho * shock + math.sqrt(1 - rho * rho) * z_long[t])
        change -= 0.004 * (y - (s + 0.012))
        new_y = max(y + change, 0.002)
        dy[t] = new_y - y
        y = new_y
        long_y[t] = y
        ou = 0.95 * ou + 0.05 * z_vix[t]
        vix_noise[t] = ou
    return {
        "mkt": mkt,
        "h": h_today,
        "h_next": h_next,
        "bear": bear_arr.astype(float),
        "short": short,
        "long": long_y,
        "dy": dy,
        "vix_noise": vix_noise,
    }


def _lagged(a: Array, first: float) -> Array:
    """`a` shifted one day later (the value known at the previous close)."""
    out = np.empty_like(a)
    out[0] = first
    out[1:] = a[:-1]
    return out


def _factor_returns(d: _Draws, n: int) -> tuple[dict[str, Array], dict[str, Array]]:
    """All factor return series plus state series (volatility ratio, rates, VIX)."""
    core = _core(d, n)
    vr = np.sqrt(core["h"] / _LR_VAR[False])
    f: dict[str, Array] = {"mkt": core["mkt"]}
    for name, (drift, vol) in _SECTORS.items():
        f[name] = drift / YEAR + vol / math.sqrt(YEAR) * vr**0.6 * d.student(f"sector-{name}", 6.0)
    f["semi"] = f["semi"] + 0.8 * f["tech"]
    f["fin"] = f["fin"] - 0.15 / YEAR * core["bear"]
    f["dollar"] = 0.07 / math.sqrt(YEAR) * d.normal("dollar") - 0.08 * f["mkt"]
    f["gold"] = 0.06 / YEAR + 0.15 / math.sqrt(YEAR) * vr**0.3 * d.student("gold", 5.0)
    f["gold"] = f["gold"] - 0.05 * f["mkt"] - 0.4 * f["dollar"]
    vix = 100 * np.sqrt(YEAR * core["h_next"]) * 1.15 * np.exp(core["vix_noise"])
    vix = np.clip(vix, 9.0, 90.0)
    prev_vix = _lagged(vix, float(vix[0]))
    dlog = np.log(vix) - np.log(prev_vix)
    roll = np.clip(0.11 * (1 - prev_vix / 28.0), -0.10, 0.08) / 21.0
    f[_VIX_ST] = 0.55 * dlog - roll
    f[_VIX_MT] = 0.28 * dlog - roll / 3.0
    state = {"vr": vr, "short": core["short"], "long": core["long"], "dy": core["dy"], "vix": vix}
    return f, state


def _bond_returns(duration: float, state: dict[str, Array]) -> Array:
    """Carry at yesterday's yield for this maturity minus duration × today's yield change."""
    w = min(1.0, duration / 10.0)
    short, long_y = state["short"], state["long"]
    y = short + (long_y - short) * w
    d_short = np.diff(short, prepend=short[0])
    dy_m = w * state["dy"] + (1 - w) * d_short
    return _lagged(y, float(y[0])) / YEAR - duration * dy_m


def _trend_returns(f: dict[str, Array], tlt: Array) -> Array:
    """Managed futures: each market held long or short by the sign of its past 63-day return."""
    assets = [(f["mkt"], 0.2), (tlt, 0.35), (f["gold"], 0.35), (f["dollar"], 0.8), (f["energy"], 0.2)]
    total = np.zeros_like(tlt)
    for r, weight in assets:
        c = np.cumsum(r)
        c_prev = _lagged(c, 0.0)
        lagged = np.concatenate([np.zeros(min(63, len(c_prev))), c_prev[:-63]])
        total += weight * np.sign(c_prev - lagged) * r
    return total


def _all_returns(d: _Draws, n: int) -> tuple[dict[str, Array], Array]:
    """Daily simple returns for every symbol, and the market's volatility ratio (for volumes)."""
    f, state = _factor_returns(d, n)
    vr = state["vr"]
    out: dict[str, Array] = {_VIX_ST: f[_VIX_ST], _VIX_MT: f[_VIX_MT]}
    tlt_raw = _bond_returns(16.5, state)
    for spec in _SPECS:
        noise = spec.idio / math.sqrt(YEAR) * d.student(f"idio-{spec.symbol}", 4.0) * vr**0.5
        base = (spec.alpha - spec.fee) / YEAR + noise
        if spec.kind == "linear":
            r = base + sum((beta * f[name] for name, beta in spec.betas.items()), np.zeros(n))
        elif spec.kind == "bond":
            r = base + _bond_returns(spec.duration, state)
            r = r + sum((beta * f[name] for name, beta in spec.betas.items()), np.zeros(n))
        elif spec.kind == "bill":
            r = _lagged(state["short"], float(state["short"][0])) / YEAR - spec.fee / YEAR
            r = r + 0.00001 * d.normal(f"idio-{spec.symbol}")
        elif spec.kind == "trend":
            r = base + _trend_returns(f, tlt_raw)
        else:
            continue
        out[spec.symbol] = np.maximum(r, _MIN_RETURN)
    for spec in _SPECS:
        if spec.kind == "lev":
            out[spec.symbol] = np.maximum(spec.mult * out[spec.under] - spec.fee / YEAR, _MIN_RETURN)
    for key in (_VIX_ST, _VIX_MT):
        del out[key]
    return out, vr


def _ohlcv(spec: _Spec, r: Array, anchor: int, vr: Array, d: _Draws) -> Array:
    """Bars around the close path: a gap open, a high/low range scaled by recent volatility, a volume."""
    growth = np.cumprod(1.0 + r)
    close = spec.price * growth / growth[anchor]
    prev_close = close / (1.0 + r)
    lr = np.log1p(r)
    scale = np.sqrt(ewm_mean(lr * lr, 0.06, adjust=True))
    scale = np.maximum(scale, 1e-5)
    key = spec.symbol
    open_ = prev_close * np.exp(0.3 * scale * d.normal(f"open-{key}"))
    high = np.maximum(open_, close) * np.exp(0.6 * scale * np.abs(d.normal(f"high-{key}")))
    low = np.minimum(open_, close) * np.exp(-0.6 * scale * np.abs(d.normal(f"low-{key}")))
    surprise = np.minimum(np.abs(lr) / scale, 6.0)
    volume = spec.volume * np.exp(0.35 * d.normal(f"volume-{key}")) * (0.7 + 0.3 * surprise) * vr**0.5
    volume = np.maximum(np.round(volume), 100.0)
    return np.column_stack([open_, high, low, close, volume])


@dataclass(frozen=True)
class _Returns:
    """Every symbol's daily returns from START through a date, and what turns them into bars."""

    days: DayArray
    returns: dict[str, Array]
    vr: Array
    anchor: int
    draws: _Draws


@lru_cache(maxsize=4)
def _generate(seed: int, through: dt.date) -> _Returns:
    """The whole market's returns from START through `through` (cached: instances with one seed share it)."""
    days = session_days(START, through)
    positions = np.busday_count(day(START), days)
    draws = _Draws(seed, positions)
    returns, vr = _all_returns(draws, len(days))
    anchor = int(np.searchsorted(days, day(ANCHOR), side="right")) - 1
    return _Returns(days, returns, vr, anchor, draws)


@lru_cache(maxsize=1024)
def _bars_of(seed: int, through: dt.date, symbol: str) -> Array:
    """One symbol's bars, built on first use: a decision reads a few dozen of the ~90 symbols, and the
    draws are keyed by symbol, so building one alone gives exactly the bars building all would."""
    market = _generate(seed, through)
    return _ohlcv(_BY_SYMBOL[symbol], market.returns[symbol], market.anchor, market.vr, market.draws)


class SampleMarket:
    """The synthetic market as a `MarketData` source ("sample"), from 2004-01-02 through `end`."""

    notice = SAMPLE_NOTICE

    def __init__(self, seed: int = DEFAULT_SEED, end: dt.date | None = None, cache_dir: Path | None = None) -> None:
        """`cache_dir` (normally `$ALCHEMISER_HOME/cache/sample`) keeps generated bars between processes."""
        end = end if end is not None else last_completed_session()
        if end < START:
            raise DataError(f"the sample market starts on {START}; end {end} is before it")
        self.seed = seed
        self.end = min(end, HORIZON_END)
        self.cache_dir = cache_dir
        self._bars: dict[str, DailyBars] = {}
        self._span: tuple[dt.date, DayArray] | None = None

    def _dates(self) -> tuple[dt.date, DayArray]:
        """(how far the shared generation runs, this market's dates)."""
        if self._span is None:
            # Generate through year-end of max(end, ANCHOR): causal, so the span beyond `end` is harmless,
            # and rounding to a year lets nearby `end`s share one cached generation.
            through = min(dt.date(max(self.end, ANCHOR).year, 12, 31), HORIZON_END)
            self._span = through, session_days(START, self.end)
        return self._span

    def _full(self, symbol: str) -> DailyBars:
        sym = symbol.upper()
        bars = self._bars.get(sym)
        if bars is not None:
            return bars
        if sym not in _BY_SYMBOL:
            raise DataError(
                f"{sym} is not in the synthetic sample market (it models {len(SAMPLE_SYMBOLS)} symbols); "
                "import real data with `alchemiser data import`"
            )
        through, days = self._dates()
        if self.cache_dir is None:
            values = _bars_of(self.seed, through, sym)
        else:
            rows = len(session_days(START, through))  # what `_generate` spans
            values = SampleCache(self.cache_dir, self.seed, through).bars(
                sym, rows, lambda: _bars_of(self.seed, through, sym)
            )
        values = values[: len(days)]
        values.flags.writeable = False  # shared by every caller: a view must not be able to change it
        bars = DailyBars(days, values)
        self._bars[sym] = bars
        return bars

    def daily(self, symbol: str, start: dt.date | None = None, end: dt.date | None = None) -> DailyBars:
        """Daily bars for `symbol` clipped to [start, end], as read-only views."""
        return self._full(symbol).clip(start, end)

    def bars(self, symbol: str, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
        """Daily bars for `symbol` clipped to [start, end]; a copy, so callers may modify it."""
        return self.daily(symbol, start, end).frame()

    def source_of(self, symbol: str) -> Source:
        self._full(symbol)
        return "sample"

    def available(self) -> list[SymbolInfo]:
        out: list[SymbolInfo] = []
        for sym in sorted(SAMPLE_SYMBOLS):
            bars = self._full(sym)
            if len(bars):
                out.append(SymbolInfo(sym, "sample", bars.first, bars.last, len(bars)))
        return out
