"""lmrec: recommendations from behaviour and pretrained language models."""

__version__ = "0.1.0"
