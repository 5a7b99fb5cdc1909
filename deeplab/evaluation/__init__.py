"""Evaluation: confusion-matrix metrics, trimap bands, the eval loop."""
