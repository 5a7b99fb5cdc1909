"""Visualises DeepLab predictions (the original's vis.py flags).

Run `python vis.py --help` for the flags; the job is `deeplab.cli.vis`.
"""
from deeplab import cli

if __name__ == '__main__':
  cli.vis()
