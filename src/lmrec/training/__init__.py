"""The shared epoch loop for torch models (imports torch: only torch models use it).

    from lmrec.training import LoopSettings, run_training
    result = run_training(network, task, LoopSettings(epochs=50, patience=10))

A task gives the batches of an epoch, the loss of a batch and a validation NDCG@10
(`EpochTask`); the loop owns the optimizer, seeding, early stopping, checkpoints and the
progress bar, so a model keeps only its network.
"""

from lmrec.training.checkpoint import EpochRecord
from lmrec.training.loop import EpochTask, LoopSettings, TrainResult, run_training

__all__ = ["EpochRecord", "EpochTask", "LoopSettings", "TrainResult", "run_training"]
