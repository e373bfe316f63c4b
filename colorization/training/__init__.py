"""Training: the trainer (Keras fit or a multi-worker loop), callbacks, strategies, optimizer."""
