"""One training loop for every task (loop.py), the function that reads data and builds the model around it
(train.py), checkpoints, devices and data-parallel runs."""
