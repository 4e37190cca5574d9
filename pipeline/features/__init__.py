"""Feature pipeline: registered feature groups -> a causal feature matrix plus reproducible metadata.

Built-in groups (``returns``, ``volatility``, ``volume``, ``trend``, ``mean_reversion``, ``calendar``)
register on import; plugin modules listed in ``features.plugins`` add more with :func:`feature_group`.
Columns are named ``<group>_...`` (a plugin column without that prefix gets it).

Rules every pipeline follows:

- Features are causal: the value at bar ``t`` uses bars ``<= t`` only; :func:`check_leakage` verifies it.
- The first ``warmup`` rows (the largest group warm-up) and every row with a NaN or infinite feature are
  dropped, never filled; :meth:`FeaturePipeline.transform` drops exactly as ``fit_transform`` does.
- For ``crypto``, :meth:`FeaturePipeline.from_config` leaves groups marked ``uses_volume=True`` out of the
  default group list (crypto volume is venue-specific); list ``features.groups`` explicitly to keep them.
- :class:`FeatureMetadata` records a hash of the group functions' source; :meth:`FeaturePipeline.from_metadata`
  refuses to rebuild when it no longer matches, unless ``strict=False``.
"""

from pipeline.features.leakage import LeakageReport, check_leakage
from pipeline.features.metadata import FeatureMetadata
from pipeline.features.pipeline import FeaturePipeline
from pipeline.features.registry import (
    FeatureGroup,
    feature_group,
    get_group,
    load_plugins,
    registered_groups,
    unregister_group,
)

__all__ = [
    "FeatureGroup",
    "FeatureMetadata",
    "FeaturePipeline",
    "LeakageReport",
    "check_leakage",
    "feature_group",
    "get_group",
    "load_plugins",
    "registered_groups",
    "unregister_group",
]
