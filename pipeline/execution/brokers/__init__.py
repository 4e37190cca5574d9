"""Venue adapters behind :class:`pipeline.execution.broker.Broker`: one module per venue, driven through the
venue's official client with its base-URL setting (so tests run against local fakes on 127.0.0.1).

- :mod:`.binance`: spot crypto through ``python-binance``.
- :mod:`.alpaca`: equities and crypto through ``alpaca-py``.
"""

from pipeline.execution.brokers._common import Deadline, VenueKeys, call_with_deadline

__all__ = ["Deadline", "VenueKeys", "call_with_deadline"]
