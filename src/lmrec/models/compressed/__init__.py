"""Compressed, portable forms of trained models: ONNX export of the sequence models'
scoring graph, int8/fp16 weights, and the model that serves them through ONNX Runtime."""
