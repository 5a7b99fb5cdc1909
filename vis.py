"""Visualises DeepLab predictions (the original's vis.py flags).

Run `python vis.py --help` for the flags; the command is
`deeplab.cli.vis`.
"""
from deeplab.cli import vis

if __name__ == '__main__':
  vis.main()
