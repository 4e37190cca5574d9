"""Report XGBoost's per-round validation metric to an Optuna trial and prune hopeless trials."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import xgboost as xgb

if TYPE_CHECKING:
    import optuna

#: XGBoost eval metrics where larger is better (prefixes; ``ndcg@5`` counts as ``ndcg``).
_HIGHER_IS_BETTER: tuple[str, ...] = ("auc", "aucpr", "map", "ndcg", "pre", "interval-regression-accuracy")


def higher_is_better(eval_metric: str) -> bool:
    """Return whether larger values of XGBoost's ``eval_metric`` are better.

    Parameters
    ----------
    eval_metric : str
        An XGBoost evaluation metric name such as ``logloss``, ``mlogloss`` or ``auc``.

    Returns
    -------
    bool
        True for ``auc``, ``aucpr``, ``map``, ``ndcg`` and ``pre`` (with or without an ``@k`` suffix).
    """
    base = eval_metric.split("@", 1)[0]
    return base in _HIGHER_IS_BETTER


class XGBoostPruningCallback(xgb.callback.TrainingCallback):
    """Report the validation eval metric after every boosting round; prune when Optuna says so.

    The reported value is sign-adjusted so that it improves in the study's direction: a study that
    maximizes (say, validation Sharpe) receives ``-logloss``, one that minimizes receives ``logloss``.
    Pruners compare these intermediate values across trials at the same round.

    Parameters
    ----------
    trial : optuna.Trial
        The running trial.
    eval_metric : str
        XGBoost metric to report (``booster_params(...)["eval_metric"]``).
    study_direction : str
        ``"maximize"`` or ``"minimize"``.
    data_name : str
        The ``evals`` entry to read (``validation`` in :func:`pipeline.training.train_model`).
    report_every : int
        Report (and ask the pruner) every this many rounds, counted from round 0; 1 reports every round.
        Each report is a database write, so long trainings report less often.
    """

    def __init__(
        self,
        trial: optuna.Trial,
        eval_metric: str,
        study_direction: str,
        data_name: str = "validation",
        report_every: int = 1,
    ) -> None:
        super().__init__()
        if report_every < 1:
            raise ValueError(f"report_every must be >= 1 (got {report_every})")
        self.trial = trial
        self.eval_metric = eval_metric
        self.data_name = data_name
        self.report_every = report_every
        maximize = study_direction == "maximize"
        self.sign = 1.0 if higher_is_better(eval_metric) == maximize else -1.0
        self.last_step: int | None = None

    def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, dict[str, list[Any]]]) -> bool:
        """Report round ``epoch``'s value; raise :class:`optuna.TrialPruned` if the trial should stop.

        Parameters
        ----------
        model : xgboost.Booster
            The booster being trained (unused).
        epoch : int
            The boosting round just finished (0-based).
        evals_log : dict
            XGBoost's evaluation history: data name -> metric name -> values per round.

        Returns
        -------
        bool
            False (training continues) unless pruning raises.

        Raises
        ------
        optuna.TrialPruned
            When the trial's pruner decides the trial is hopeless.
        KeyError
            When the evaluation history has no ``data_name``/``eval_metric`` entry.
        """
        import optuna

        if epoch % self.report_every:
            return False
        history = evals_log[self.data_name][self.eval_metric]
        latest = history[-1]
        value = float(latest[0] if isinstance(latest, tuple | list) else latest)
        self.trial.report(self.sign * value, step=epoch)
        self.last_step = epoch
        if self.trial.should_prune():
            raise optuna.TrialPruned(
                f"trial {self.trial.number} pruned at round {epoch} ({self.data_name}-{self.eval_metric}={value:.6g})"
            )
        return False
