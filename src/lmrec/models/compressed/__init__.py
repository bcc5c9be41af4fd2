"""Compressed, portable forms of trained models: ONNX export of the neural models'
scoring graphs (sequence models: onnx_sequence; hybrid and NCF: onnx_user), int8/fp16
weights, and the models that serve them through ONNX Runtime."""

from typing import Literal

#: how an export stores its weights (see shrink.py); here so that loading an exported
#: model imports neither torch nor the onnx package
Quantize = Literal["none", "int8", "fp16"]
QUANTIZE_CHOICES: tuple[Quantize, ...] = ("none", "int8", "fp16")
