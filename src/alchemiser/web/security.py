"""Who may change state: loopback by default; elsewhere a token from the home; CSRF on every POST.

Binding to loopback keeps the dashboard to this machine. Binding elsewhere exposes it to a network, so
every request then needs the token stored in the home (owner-only, 0600) — as a bearer header or the
cookie `/login?token=…` sets. Every state-changing request additionally needs a CSRF token: a secret made
when the server starts, embedded in each page and sent back by our own JavaScript in a header, which a
cross-site form cannot do; the Origin header, when present, must also be ours.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from pathlib import Path

TOKEN_FILE = "web_token"
COOKIE = "alchemiser_token"
CSRF_HEADER = "X-CSRF-Token"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_or_create_token(home: Path) -> str:
    """The home's access token, created owner-only on first use; an unsafe existing file is refused."""
    path = home / TOKEN_FILE
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise PermissionError(f"{path} is readable by others (mode {mode:o}); run chmod 600 {path}")
        token = path.read_text(encoding="utf-8").strip()
        if len(token) >= 32:
            return token
    home.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    os.chmod(path, 0o600)
    return token


def same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


def bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None
