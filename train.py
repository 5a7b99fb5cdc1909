"""Trains DeepLab (the original's train.py flags).

Run `python train.py --help` for the flags; the command is
`deeplab.cli.train`.
"""
from deeplab.cli import train

if __name__ == '__main__':
  train.main()
