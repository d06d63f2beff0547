"""Flax NNX models, one file per family. Import the module you need; no registry side effects."""
