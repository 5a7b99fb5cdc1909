"""Trains DeepLab (the original's train.py flags).

Run `python train.py --help` for the flags; the job is `deeplab.cli.train`.
"""
from deeplab import cli

if __name__ == '__main__':
  cli.train()
