"""The PhoBERT path: a fine-tuned PhoBERT encoder with one classification head per task.

Importing this package is light; `classifiers.phobert.network`, `.train` and the torch backends
need the `phobert` extra (torch, transformers), the ONNX Runtime backend the `onnx` extra.
Defaults point at `vinai/phobert-base` (MIT). `vinai/phobert-base-v2` is AGPL-3.0: usable
through `--base`, but a model fine-tuned from it carries that licence.
"""
