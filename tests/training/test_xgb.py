"""XGBoost training: early stopping on validation, reproducible seeds, an immutable result."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pipeline.training import TrainedModel, train_model
from tests.tuning.builders import signal_dataset, tuning_config


@pytest.fixture(scope="module")
def trained() -> tuple[TrainedModel, object]:
    config = tuning_config("train-test")
    dataset = signal_dataset(config, n=400)
    return train_model(dataset, config), dataset


def test_train_model_when_trained_records_validation_metrics_and_device(trained) -> None:
    model, dataset = trained
    assert model.n_classes == 2
    assert model.device in ("cpu", "cuda") and model.device_reason
    assert set(model.val_metrics) == {"val_logloss", "val_accuracy", "best_iteration"}
    assert 0.0 <= model.val_metrics["val_accuracy"] <= 1.0
    assert model.val_metrics["best_iteration"] == model.best_iteration
    proba = model.predict_proba(dataset.validation.X)
    assert proba.shape == (len(dataset.validation.X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_train_model_when_done_returns_a_model_that_cannot_be_changed(trained) -> None:
    model, _ = trained
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.device = "cuda"  # type: ignore[misc]


def test_train_model_when_run_twice_with_the_same_seed_predicts_identically(trained) -> None:
    model, dataset = trained
    again = train_model(dataset, tuning_config("train-test"))
    assert again.best_iteration == model.best_iteration
    np.testing.assert_array_equal(again.predict_proba(dataset.test.X), model.predict_proba(dataset.test.X))
