"""A tiny HTTP client for the API tests (urllib: no extra dependency, errors returned, not raised)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any


def request(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    status, text = request(url, headers=headers)
    return status, json.loads(text)


def post_json(
    url: str, payload: Any, headers: dict[str, str] | None = None, raw: bytes | None = None
) -> tuple[int, Any]:
    body = raw if raw is not None else json.dumps(payload).encode()
    status, text = request(url, "POST", body, {"Content-Type": "application/json", **(headers or {})})
    return status, json.loads(text)


def csrf_of(base: str, headers: dict[str, str] | None = None) -> str:
    status, page = request(base, headers=headers)
    assert status == 200, page
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert match, "no CSRF token in the page"
    return match.group(1)
