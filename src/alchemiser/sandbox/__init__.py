"""An Alpaca-compatible sandbox: Alpaca's REST + WebSocket wire protocol over the simulated exchange.

The unmodified alpaca-py clients (ours in `execution/alpaca/`, or anyone's) trade against it offline:

    server = SandboxServer(SampleMarket(), config=SandboxConfig()).start()
    TradingClient(server.key_id, server.secret_key, paper=True, url_override=server.url)
    StockHistoricalDataClient(server.key_id, server.secret_key, url_override=server.url)
    TradingStream(server.key_id, server.secret_key, paper=True, url_override=server.stream_url + "/stream")
    StockDataStream(server.key_id, server.secret_key, url_override=server.stream_url + "/v2/iex")

Keys default to ALPACA_API_KEY/ALPACA_SECRET_KEY, then APCA_API_KEY_ID/APCA_API_SECRET_KEY, then the fixed
pair "sandbox-key"/"sandbox-secret".
"""

from alchemiser.sandbox.config import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, FaultConfig, SandboxConfig, resolve_keys
from alchemiser.sandbox.server import SandboxServer, serve_forever

__all__ = [
    "DEFAULT_KEY_ID",
    "DEFAULT_SECRET_KEY",
    "FaultConfig",
    "SandboxConfig",
    "SandboxServer",
    "resolve_keys",
    "serve_forever",
]
