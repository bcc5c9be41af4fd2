"""Honest offline evaluation: full-ranking metrics, uncertainty, and model selection.

    from lmrec.evaluation import evaluate
    result = evaluate(model, split.test, exclude=[split.train, split.valid], ks=(10, 20))
    result.summary()        # {'precision@10': ..., 'ndcg@10': ..., 'coverage@10': ...}
    result.with_ci()        # mean and 95% bootstrap interval per metric

Formulas and conventions (RecBole-compatible): docs/metrics.md.
"""

from lmrec.evaluation.runner import EvaluationResult, evaluate
from lmrec.evaluation.stats import PairedTest, bootstrap_ci, paired_test
from lmrec.evaluation.tuning import select_config

__all__ = [
    "EvaluationResult",
    "PairedTest",
    "bootstrap_ci",
    "evaluate",
    "paired_test",
    "select_config",
]
