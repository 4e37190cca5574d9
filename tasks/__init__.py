"""Thin Prefect task wrappers over pipeline/. Importing the package registers the Prefect Secret block
reader with the venue adapters (``credentials: {key_block: ..., secret_block: ...}`` in a trading file)."""

import tasks.secrets  # noqa: F401
