"""Evaluates DeepLab checkpoints (the original's eval.py flags).

Run `python eval.py --help` for the flags; the job is `deeplab.cli.evaluate`.
"""
from deeplab import cli

if __name__ == '__main__':
  cli.evaluate()
