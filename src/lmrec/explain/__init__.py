"""Explanations of what drives a model's recommendations."""
