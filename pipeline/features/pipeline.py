"""The feature pipeline: run the configured groups on bars, drop warm-up rows, record metadata."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from pipeline.bars import OHLCV_COLUMNS
from pipeline.config import FeaturesConfig
from pipeline.errors import FeatureError
from pipeline.features.metadata import FeatureMetadata, code_hash, group_hashes
from pipeline.features.registry import BarArrays, get_group, load_plugins


class FeaturePipeline:
    """Compute the feature matrix of a list of registered groups.

    Features are stateless functions of the bars, so "fitting" only records what was computed
    (:class:`FeatureMetadata`); :meth:`transform` of a fitted pipeline, or of one rebuilt with
    :meth:`from_metadata`, returns exactly the same columns, in the same order, with the same rows dropped.

    Parameters
    ----------
    groups : sequence of str
        Registered group names, in column order.
    params : mapping, optional
        ``{group: {param: value}}`` overrides of the groups' signature defaults.
    plugins : sequence of str, default ()
        Modules to import first, so that the groups they decorate are registered.

    Raises
    ------
    FeatureError
        If a group is unknown or repeated, a plugin cannot be imported, or params are invalid.
    """

    def __init__(
        self,
        groups: Sequence[str],
        params: Mapping[str, Mapping[str, Any]] | None = None,
        plugins: Sequence[str] = (),
    ) -> None:
        if isinstance(groups, str):
            groups = [groups]
        if isinstance(plugins, str):
            plugins = [plugins]
        load_plugins(plugins)
        self._plugins = tuple(plugins)
        self._groups = tuple(groups)
        if not self._groups:
            raise FeatureError("features.groups: at least one feature group is needed")
        repeated = sorted({g for g in self._groups if self._groups.count(g) > 1})
        if repeated:
            raise FeatureError(f"features.groups: group(s) listed twice: {', '.join(repeated)}")
        self._specs = {name: get_group(name) for name in self._groups}
        params = dict(params or {})
        stray = sorted(set(params) - set(self._groups))
        if stray:
            raise FeatureError(f"features.params: params given for group(s) not in features.groups: {', '.join(stray)}")
        self._params = {name: spec.resolve_params(params.get(name)) for name, spec in self._specs.items()}
        self._warmup = max(spec.warmup_for(self._params[name]) for name, spec in self._specs.items())
        self._metadata: FeatureMetadata | None = None

    @classmethod
    def from_config(cls, features_cfg: FeaturesConfig, asset_class: Literal["equity", "crypto"]) -> FeaturePipeline:
        """Build the pipeline an experiment's ``features`` section describes.

        For ``crypto``, groups that use volume (``uses_volume=True``, e.g. ``volume``) are dropped from the
        *default* group list, because crypto volume is venue-specific and unreliable; they are kept when the
        YAML lists ``features.groups`` explicitly. Params of dropped groups are ignored.

        Raises
        ------
        FeatureError
            If ``asset_class`` is unknown, or as :class:`FeaturePipeline` does.
        """
        if asset_class not in ("equity", "crypto"):
            raise FeatureError(f"asset_class must be equity or crypto, got {asset_class!r}")
        load_plugins(features_cfg.plugins)
        groups = list(features_cfg.groups)
        params = {name: dict(values) for name, values in features_cfg.params.items()}
        if asset_class == "crypto" and "groups" not in features_cfg.model_fields_set:
            groups = [name for name in groups if not get_group(name).uses_volume]
            params = {name: values for name, values in params.items() if name in groups}
        return cls(groups, params=params, plugins=features_cfg.plugins)

    @classmethod
    def from_metadata(cls, meta: FeatureMetadata, *, strict: bool = True) -> FeaturePipeline:
        """Rebuild the pipeline that produced ``meta``; its :meth:`transform` reproduces the same features.

        Parameters
        ----------
        meta : FeatureMetadata
            Metadata from :meth:`fit_transform` (or :meth:`FeatureMetadata.from_dict`).
        strict : bool, default True
            Refuse when the groups' code changed since ``meta`` was written; ``False`` only warns.

        Raises
        ------
        FeatureError
            If the code hash differs (and ``strict``), or a group or plugin is no longer available.
        """
        pipe = cls(meta.groups, params=meta.params, plugins=meta.plugins)
        current = code_hash(meta.groups)
        if current != meta.code_hash:
            now = group_hashes(meta.groups)
            changed = sorted(g for g in now if meta.group_hashes.get(g) != now[g]) or sorted(now)
            message = (
                f"feature code changed since the metadata was written (group(s) {', '.join(changed)}; "
                f"hash {meta.code_hash[:12]} -> {current[:12]})"
            )
            if strict:
                raise FeatureError(message + "; pass strict=False to rebuild anyway")
            warnings.warn(message, stacklevel=2)
        pipe._metadata = meta
        return pipe

    @property
    def groups(self) -> tuple[str, ...]:
        """Return the group names, in column order."""
        return self._groups

    @property
    def params(self) -> dict[str, dict[str, Any]]:
        """Return the resolved params per group."""
        return {name: dict(values) for name, values in self._params.items()}

    @property
    def plugins(self) -> tuple[str, ...]:
        """Return the plugin modules imported for this pipeline."""
        return self._plugins

    @property
    def warmup(self) -> int:
        """Return the leading bars dropped (the largest group warm-up)."""
        return self._warmup

    @property
    def metadata(self) -> FeatureMetadata | None:
        """Return the metadata of the last fit (or the one rebuilt from), ``None`` before."""
        return self._metadata

    def compute_raw(self, bars: pd.DataFrame) -> pd.DataFrame:
        """Return every feature on every bar, warm-up rows and NaN included (infinities become NaN).

        Raises
        ------
        FeatureError
            If ``bars`` is not canonical or a group fails or returns malformed output.
        """
        ohlcv = _check_bars(bars)
        frames = [self._specs[name].compute(ohlcv[list(OHLCV_COLUMNS)], self._params[name]) for name in self._groups]
        columns = [col for frame in frames for col in frame.columns]
        values = np.empty((len(ohlcv), len(columns)), dtype="float64", order="F")
        j = 0
        for frame in frames:
            for _, column in frame.items():
                values[:, j] = column.to_numpy()
                j += 1
        values[~np.isfinite(values)] = np.nan
        return pd.DataFrame(values, index=ohlcv.index, columns=columns, copy=False)

    def fit_transform(self, bars: pd.DataFrame) -> tuple[pd.DataFrame, FeatureMetadata]:
        """Compute the feature matrix of ``bars`` and record its metadata.

        Returns
        -------
        X : DataFrame
            float64 features on the bars' ``ts`` index, without the first ``warmup`` rows or any row with NaN.
        meta : FeatureMetadata
            What :meth:`from_metadata` needs to reproduce ``X``.
        """
        raw = self.compute_raw(bars)
        features = self._drop_unready(raw)
        self._metadata = FeatureMetadata(
            feature_names=tuple(raw.columns),
            groups=self._groups,
            params=self.params,
            warmup=self._warmup,
            plugins=self._plugins,
            code_hash=code_hash(self._groups),
            group_hashes=group_hashes(self._groups),
        )
        return features, self._metadata

    def transform(self, bars: pd.DataFrame) -> pd.DataFrame:
        """Compute the feature matrix of ``bars``, dropping rows exactly as :meth:`fit_transform` does.

        Raises
        ------
        FeatureError
            If the columns differ from the fitted metadata, or no row survives the warm-up.
        """
        raw = self.compute_raw(bars)
        if self._metadata is not None and tuple(raw.columns) != self._metadata.feature_names:
            expected = self._metadata.feature_names
            missing = [c for c in expected if c not in raw.columns]
            extra = [c for c in raw.columns if c not in expected]
            raise FeatureError(
                f"features differ from the fitted metadata (missing: {', '.join(missing) or 'none'}; "
                f"unexpected: {', '.join(extra) or 'none'}; or a different order)"
            )
        return self._drop_unready(raw)

    def transform_last(self, bars: pd.DataFrame) -> pd.DataFrame:
        """Return the last row of :meth:`transform` of ``bars`` (one row; what a trading cycle predicts on),
        computing as little as it can.

        Groups with a last-row path (every built-in; see :func:`~pipeline.features.feature_last_row`) compute
        their values at the last bar only; a group without one (e.g. a plugin's) runs its function on all of
        ``bars`` and gives its last row. When the last bar has no complete row (within the warm-up, or a NaN
        or infinite value anywhere), the full :meth:`transform` decides, so the result is always the last row
        of ``transform(bars)``: the same columns and index, the same values up to the rounding documented in
        :mod:`pipeline.features.groups._last` (``tests/features/test_last_row.py``).

        Raises
        ------
        FeatureError
            As :meth:`transform` does.
        """
        _check_bar_frame(bars)
        if len(bars) > self._warmup:
            arrays = BarArrays.from_frame(bars)
            ohlcv = None  # the canonical frame, built only for a group without a last-row path
            names: list[str] = []
            values: list[float] = []
            for name in self._groups:
                spec = self._specs[name]
                if spec.last_row is not None:
                    row = spec.compute_last(arrays, self._params[name])
                    names.extend(row)
                    values.extend(row.values())
                else:
                    ohlcv = _check_bars(bars) if ohlcv is None else ohlcv
                    frame = spec.compute(ohlcv, self._params[name])
                    names.extend(frame.columns)
                    values.extend(frame.iloc[-1].to_numpy(dtype="float64"))
            if self._metadata is not None and tuple(names) != self._metadata.feature_names:
                return self.transform(bars).iloc[-1:]  # raises the column error transform gives
            last = np.array(values, dtype="float64")
            if np.isfinite(last).all():
                return pd.DataFrame(last[np.newaxis, :], index=bars.index[-1:], columns=names)
        return self.transform(bars).iloc[-1:]

    def _drop_unready(self, raw: pd.DataFrame) -> pd.DataFrame:
        values = raw.to_numpy()
        ready = ~np.isnan(values).any(axis=1)
        ready[: self._warmup] = False
        if not ready.any():
            empty = [c for c in raw.columns if raw[c].isna().all()]
            why = f"; all NaN: {', '.join(empty)}" if empty else ""
            raise FeatureError(f"no feature row left after warm-up ({len(raw)} bars, warmup {self._warmup}){why}")
        first = int(ready.argmax())
        if ready[first:].all():
            return raw.iloc[first:]
        return raw.iloc[np.flatnonzero(ready)]

    def __repr__(self) -> str:
        return f"FeaturePipeline(groups={list(self._groups)!r}, plugins={list(self._plugins)!r})"


def _check_bars(bars: pd.DataFrame) -> pd.DataFrame:
    _check_bar_frame(bars)
    return bars[list(OHLCV_COLUMNS)].astype("float64")


def _check_bar_frame(bars: pd.DataFrame) -> None:
    if not isinstance(bars, pd.DataFrame):
        raise FeatureError(f"bars must be a DataFrame, got {type(bars).__name__}")
    missing = [c for c in OHLCV_COLUMNS if c not in bars.columns]
    if missing:
        raise FeatureError(f"bars: missing column(s) {', '.join(missing)}")
    if not isinstance(bars.index, pd.DatetimeIndex):
        raise FeatureError(f"bars: index must be a DatetimeIndex (ts), got {type(bars.index).__name__}")
    if not bars.index.is_unique or not bars.index.is_monotonic_increasing:
        raise FeatureError("bars: ts index must be unique and ascending")
    non_numeric = [c for c in OHLCV_COLUMNS if not pd.api.types.is_numeric_dtype(bars[c].dtype)]
    if non_numeric:
        raise FeatureError(f"bars: non-numeric column(s) {', '.join(non_numeric)}")
