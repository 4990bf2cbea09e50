"""A large synthetic Composer export that uses every function, for the symphony benchmark and its test.

Real exports run to megabytes because sub-strategies are pasted again and again (the same "hedge" block in
every branch), with variations. This builds such a file deterministically from `variants` distinct blocks,
cycling through all fifteen functions (aliases included), every node kind (`if` with indicators on both
sides, `filter` over assets and groups, `weight-inverse-volatility`, `weight-specified`, `group`, `empty`)
and the tickers of the synthetic sample market. The compiler de-duplicates repeated blocks, so the cost of
evaluating grows with `variants`, the cost of reading with the size.
"""

from __future__ import annotations

from alchemiser.indicators import ALIASES, INDICATORS

_FUNCTIONS = [*INDICATORS, *ALIASES]
_PARAMS = {
    "window": ("{{:window {w}}}",),
    "short-window": ("{{:short-window {s} :long-window {l}}}", "{{:long-window {l} :short-window {s}}}"),
    "smooth-window": ("{{:short-window {s} :long-window {l} :smooth-window {m}}}",),
    "num-std-dev": ("{{:window {w}}}", "{{:window {w} :num-std-dev 1.5}}"),
}


def _call(fn: str, i: int, ticker: str | None) -> str:
    spec = INDICATORS[ALIASES.get(fn, fn)]
    keys = [p.key for p in spec.params]
    kind = next((k for k in ("smooth-window", "short-window", "num-std-dev", "window") if k in keys), None)
    parts = [fn] + ([f'"{ticker}"'] if ticker else [])
    if kind is not None:
        forms = _PARAMS[kind]
        w = (5, 10, 20, 60)[i % 4]
        parts.append(forms[i % len(forms)].format(w=w, s=(6, 12)[i % 2], l=(26, 50)[i % 2], m=9))
    return "(" + " ".join(parts) + ")"


def big_export(target_bytes: int, tickers: list[str], variants: int = 120) -> str:
    """About `target_bytes` of symphony text over `tickers`, built from `variants` distinct blocks."""
    blocks: list[str] = []
    size, k = 0, 0
    n = len(tickers)
    while size < target_bytes:
        i = k % variants
        k += 1
        t = [tickers[(i * 7 + k) % n] for k in range(9)]
        f = [_FUNCTIONS[(i + k) % len(_FUNCTIONS)] for k in range(4)]
        block = f"""
  (if (> {_call(f[0], i, t[0])} {_call(f[1], i + 1, t[1])})
    [(weight-specified
       0.6 (asset "{t[2]}" "Fund {t[2]}")
       0.4 (filter {_call(f[2], i, None)} (select-top 2)
             [(asset "{t[3]}" nil) (asset "{t[4]}" nil)
              (group "G{i % 40}" [(weight-equal [(asset "{t[5]}" nil) (asset "{t[6]}" nil)])])
              (empty)]))]
    [(weight-inverse-volatility {(10, 20)[i % 2]}
       [(asset "{t[7]}" nil)
        (if (< {_call(f[3], i + 2, t[8])} {(i % 9) * 10 - 20})
          [(asset "{t[8]}" nil)]
          [(group "Cash {i % 7}" [(empty)])])])])"""
        blocks.append(block)
        size += len(block)
    body = "".join(blocks)
    return f""";; synthetic large export
(defsymphony "Big export" {{:asset-class "EQUITIES" :rebalance-frequency :daily}}
 (weight-equal [{body}]))
"""
