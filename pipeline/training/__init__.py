"""Training: XGBoost on the train segment, early stopping on validation only, fixed seeds."""

from pipeline.training.device import DeviceChoice, resolve_device
from pipeline.training.xgb import TrainedModel, predict_proba, train_model

__all__ = ["DeviceChoice", "TrainedModel", "predict_proba", "resolve_device", "train_model"]
