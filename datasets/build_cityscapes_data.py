"""Converts Cityscapes to TFRecords.

Run `python datasets/build_cityscapes_data.py --help` for the flags; the
command is `deeplab.cli.build_cityscapes_data`.
"""
from deeplab.cli import build_cityscapes_data

if __name__ == '__main__':
  build_cityscapes_data.main()
