"""Core: configuration, networks, datasets, the training loop, records, sweeps and executors."""
