"""The transformer path: a fine-tuned pretrained encoder with one classification head per task,
for PhoBERT (BPE over segmented words) and multilingual-e5 (SentencePiece over syllables) alike.

Importing this package is light; `classifiers.transformer.network`, `.train` and the torch
backends need the `transformer` extra (torch, transformers), the ONNX Runtime backend the `onnx`
extra. PhoBERT defaults point at `vinai/phobert-base` (MIT). `vinai/phobert-base-v2` is
AGPL-3.0: usable through `--base`, but a model fine-tuned from it carries that licence.
"""
