"""Converts Cityscapes to TFRecords.

Run `python datasets/build_cityscapes_data.py --help` for the flags; the converter is
`deeplab.datasets.build_cityscapes_data`.
"""
from deeplab.datasets import build_cityscapes_data

if __name__ == '__main__':
  build_cityscapes_data.run()
