"""Defaults shared by quantgate's tasks."""

from prefect.cache_policies import NO_CACHE

from pipeline.errors import PlatformError, SourceUnavailable, StoreUnavailable

# Experiment tasks pass DataFrames, boosters and reports between each other in memory; hashing them for
# cache keys would cost more than recomputing. Ingestion is idempotent in the store instead.
IN_MEMORY = {"cache_policy": NO_CACHE, "persist_result": False}


def retry_unless_permanent(task, task_run, state) -> bool:
    """Retry a failed task only when trying again can help.

    A :class:`PlatformError` is permanent (bad key, unknown symbol, bad data, gate refusals) except
    :class:`SourceUnavailable` (a source that kept failing transiently) and :class:`StoreUnavailable`
    (a database outage during a write); anything else (a database connection dropped during a read, a
    timeout) is worth another try.
    """
    try:
        state.result()
    except (SourceUnavailable, StoreUnavailable):
        return True
    except PlatformError:
        return False
    except Exception:  # noqa: BLE001 - anything not ours may be transient
        return True
    return False
