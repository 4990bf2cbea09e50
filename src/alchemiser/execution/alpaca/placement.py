"""Send a request that creates an order exactly once, whatever the network does.

Order placement and close-position share one rule. 429 means "not processed": wait and send again. A 5xx,
a timeout or a dropped connection is ambiguous: the request may have taken effect, so before anything else
the order is looked for (`find`). If it is not there, the request is sent again only when that is safe:
an order carries our client_order_id, whose uniqueness turns a re-send of an order that did get through into
a harmless duplicate refusal, resolved to the existing order; a close-position call has no such id, so it
is never re-sent and the caller is told the position may still be closing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from alpaca.trading.models import Order as AlpacaOrder

from alchemiser.execution.alpaca.errors import CALL_ERRORS, ErrorMapper, RetryPolicy, ambiguous, status_of
from alchemiser.execution.alpaca.wire import order_from_alpaca
from alchemiser.execution.broker import BrokerError, DuplicateClientOrderId
from alchemiser.models import Order

log = logging.getLogger(__name__)


def send_once(
    what: str,
    send: Callable[[], object],
    find: Callable[[], Order | None],
    *,
    resend_safe: bool,
    unknown_outcome: str,
    policy: RetryPolicy,
    errors: ErrorMapper,
    sleep: Callable[[float], None],
) -> Order:
    """The order `send` created (or the one `find` shows an earlier attempt created).

    Refusals raise our errors at once; when every attempt failed, `BrokerError` ends with `unknown_outcome`
    if some attempt may have gone through.
    """
    maybe_sent = False

    def retry_on(exc: BaseException) -> bool:
        return status_of(exc) == 429 or (resend_safe and ambiguous(exc))

    def one_attempt() -> Order:
        nonlocal maybe_sent
        if maybe_sent and (found := find()) is not None:
            log.warning("%s: outcome was unknown; found the order it created", what)
            return found
        try:
            raw = send()
        except CALL_ERRORS as exc:
            if ambiguous(exc):
                maybe_sent = True
                raise
            if status_of(exc) == 429:
                raise
            refusal = errors(exc, what, order=True)
            if isinstance(refusal, DuplicateClientOrderId) and maybe_sent and (found := find()) is not None:
                return found  # our own earlier attempt got through
            raise refusal from None
        assert isinstance(raw, AlpacaOrder)
        return order_from_alpaca(raw)

    try:
        return policy.retrying(retry_on, sleep)(one_attempt)
    except CALL_ERRORS as exc:
        last = exc
    if maybe_sent and (found := find()) is not None:
        return found
    raise BrokerError(
        f"{errors(last, what)}; gave up after {policy.attempts} attempts"
        + (f" — {unknown_outcome}" if maybe_sent else "")
    )
