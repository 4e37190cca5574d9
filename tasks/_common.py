"""Defaults shared by quantgate's tasks."""

from prefect.cache_policies import NO_CACHE

# Experiment tasks pass DataFrames, boosters and reports between each other in memory; hashing them for
# cache keys would cost more than recomputing. Ingestion is idempotent in the store instead.
IN_MEMORY = {"cache_policy": NO_CACHE, "persist_result": False}
