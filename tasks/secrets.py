"""Prefect Secret blocks as a source of venue keys (``credentials: {key_block: ..., secret_block: ...}``).

pipeline/ may not import Prefect; importing this module registers the reader with the broker adapters.
The value is returned to the adapter only: it is never logged, returned from a task, or written anywhere.
"""

from __future__ import annotations

from pipeline.execution.brokers import set_block_reader


def read_secret_block(name: str) -> str:
    """The value of the Prefect Secret block ``name`` (``prefect.blocks.system.Secret``)."""
    from prefect.blocks.system import Secret

    value = Secret.load(name, _sync=True).get()  # type: ignore[union-attr]
    return value if isinstance(value, str) else str(value)


set_block_reader(read_secret_block)
