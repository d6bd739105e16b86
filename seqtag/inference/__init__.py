"""Prediction at scale: worker processes (workers.py) and file shards (shards.py)."""
