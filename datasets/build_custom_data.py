"""Converts a user's own segmentation dataset to TFRecords + a description.

Run `python datasets/build_custom_data.py --help` for the flags; the
command is `deeplab.cli.build_custom_data`.
"""
from deeplab.cli import build_custom_data

if __name__ == '__main__':
  build_custom_data.main()
