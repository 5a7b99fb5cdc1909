"""Training: losses, learning rates, distribution, the train loop."""
