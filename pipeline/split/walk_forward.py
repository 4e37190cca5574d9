"""Walk-forward folds: repeated train-then-test windows moving forward through time.

Test windows are contiguous and end at the last row; fold ``i`` tests on
``[n - (folds - i) * test_bars, n - (folds - i - 1) * test_bars)``. Its training window ends ``embargo``
rows before its test window starts and is either *rolling* (the last ``train_bars`` rows; the default)
or *expanding* (everything from row 0). Defaults when sizes are not given:

* neither given: the test windows take half of the rows after one embargo, the rest is ``train_bars``;
* only ``train_bars``: the test windows share what is left after ``train_bars + embargo``;
* only ``test_bars``: ``train_bars`` is what is left before the first test window and its embargo.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.config import ExperimentConfig
from pipeline.errors import LabelError
from pipeline.split.dataset import Dataset, align_features, check_train_classes, make_segment


@dataclass(frozen=True)
class Fold:
    """Half-open row positions of one walk-forward fold."""

    number: int
    train: tuple[int, int]
    test: tuple[int, int]

    @property
    def train_rows(self) -> int:
        return self.train[1] - self.train[0]

    @property
    def test_rows(self) -> int:
        return self.test[1] - self.test[0]


def walk_forward_folds(
    n_rows: int,
    folds: int,
    train_bars: int | None = None,
    test_bars: int | None = None,
    embargo: int = 0,
    *,
    expanding: bool = False,
) -> list[Fold]:
    """Return the positions of ``folds`` walk-forward folds over ``n_rows`` rows.

    Parameters
    ----------
    n_rows : int
        Rows available (feature rows, in time order).
    folds : int
        Number of folds (>= 1).
    train_bars : int, optional
        Rows per training window (rolling) or of the first one (expanding); derived when ``None``.
    test_bars : int, optional
        Rows per test window; derived when ``None``.
    embargo : int
        Rows dropped between each training window and its test window.
    expanding : bool
        Grow the training window from row 0 instead of rolling it.

    Raises
    ------
    LabelError
        If the windows do not fit in ``n_rows``.
    """
    if folds < 1:
        raise LabelError(f"walk_forward: folds must be >= 1 (got {folds})")
    if embargo < 0:
        raise LabelError(f"walk_forward: embargo must be >= 0 (got {embargo})")
    room = n_rows - embargo
    if test_bars is None and train_bars is None:
        test_bars = room // (2 * folds)
        train_bars = room - folds * test_bars
    elif test_bars is None:
        test_bars = (room - int(train_bars or 0)) // folds
    elif train_bars is None:
        train_bars = room - folds * test_bars
    assert train_bars is not None and test_bars is not None
    if test_bars < 1 or train_bars < 1 or train_bars + embargo + folds * test_bars > n_rows:
        raise LabelError(
            f"walk_forward: {folds} folds of {test_bars} test rows after {train_bars} training rows and an "
            f"embargo of {embargo} do not fit in {n_rows} rows"
        )
    out: list[Fold] = []
    for i in range(folds):  # one iteration per fold, not per bar
        test_start = n_rows - (folds - i) * test_bars
        train_stop = test_start - embargo
        train_start = 0 if expanding else max(0, train_stop - train_bars)
        out.append(Fold(number=i, train=(train_start, train_stop), test=(test_start, test_start + test_bars)))
    return out


def build_walk_forward(
    bars: pd.DataFrame,
    features: pd.DataFrame,
    config: ExperimentConfig,
    *,
    expanding: bool = False,
) -> list[Dataset]:
    """Build one labelled :class:`Dataset` per walk-forward fold.

    Each fold's training window is cut into train and a validation tail (for early stopping) in the
    ratio ``split.train : split.validation``, with ``config.embargo`` rows dropped between them; the test
    window follows ``config.embargo`` rows after the training window. Every segment is labelled from its
    own bars only.

    Parameters
    ----------
    bars : pandas.DataFrame
        Canonical bars.
    features : pandas.DataFrame
        Feature matrix (index a subset of ``bars.index``).
    config : ExperimentConfig
        Uses ``split.folds``, ``split.train_bars``, ``split.test_bars``, the fractions, ``target`` and
        ``embargo``.
    expanding : bool
        Expanding instead of rolling training windows.

    Returns
    -------
    list[Dataset]
        One per fold, oldest first, with ``Dataset.fold`` set.

    Raises
    ------
    LabelError
        If the folds do not fit, or a segment of a fold is too small or single-class (the message names
        the fold).
    """
    bars, features = align_features(bars, features)
    split = config.split
    embargo = config.embargo
    folds = walk_forward_folds(
        len(features), split.folds, split.train_bars, split.test_bars, embargo, expanding=expanding
    )
    val_share = split.validation / (split.train + split.validation)
    out: list[Dataset] = []
    for fold in folds:
        start, stop = fold.train
        usable = stop - start - embargo
        n_val = int(usable * val_share)
        n_train = usable - n_val
        if n_train <= 0 or n_val <= 0:
            raise LabelError(
                f"walk_forward fold {fold.number}: training window of {stop - start} rows cannot hold train, "
                f"validation and an embargo of {embargo}"
            )
        prefix = f"fold {fold.number} "
        try:
            train = make_segment("train", bars, features, start, start + n_train, config.target)
            validation = make_segment("validation", bars, features, stop - n_val, stop, config.target)
            test = make_segment("test", bars, features, fold.test[0], fold.test[1], config.target)
            check_train_classes(train)
        except LabelError as exc:
            raise LabelError(f"walk_forward {prefix}{exc}") from exc
        out.append(
            Dataset(
                train=train,
                validation=validation,
                test=test,
                embargo=embargo,
                holding_period=config.target.holding_period,
                fold=fold.number,
            )
        )
    return out
