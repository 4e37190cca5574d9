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
- :meth:`FeaturePipeline.transform_last` gives the last row of ``transform`` (what a trading cycle needs),
  bit for bit, from each group's last-row path (:func:`feature_last_row`; every built-in has one, checked
  against the group's function), running the group's function where a plugin has none.
- :class:`FeatureMetadata` records a hash of the group functions' source, last-row paths included;
  :meth:`FeaturePipeline.from_metadata` refuses to rebuild when it no longer matches, unless ``strict=False``.
"""

from pipeline.features.leakage import LeakageReport, check_leakage
from pipeline.features.metadata import FeatureMetadata
from pipeline.features.pipeline import FeaturePipeline
from pipeline.features.registry import (
    BarArrays,
    FeatureGroup,
    feature_group,
    feature_last_row,
    get_group,
    load_plugins,
    registered_groups,
    unregister_group,
)

__all__ = [
    "BarArrays",
    "FeatureGroup",
    "FeatureMetadata",
    "FeaturePipeline",
    "LeakageReport",
    "check_leakage",
    "feature_group",
    "feature_last_row",
    "get_group",
    "load_plugins",
    "registered_groups",
    "unregister_group",
]
