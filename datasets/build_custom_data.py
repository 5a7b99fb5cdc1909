"""Converts a user's own segmentation dataset to TFRecords + a description.

Run `python datasets/build_custom_data.py --help` for the flags; the converter is
`deeplab.datasets.build_custom_data`.
"""
from deeplab.datasets import build_custom_data

if __name__ == '__main__':
  build_custom_data.run()
