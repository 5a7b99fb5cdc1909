"""Converts PASCAL VOC 2012 (and the SBD train_aug set) to TFRecords.

Run `python datasets/build_voc2012_data.py --help` for the flags; the
command is `deeplab.cli.build_voc2012_data`.
"""
from deeplab.cli import build_voc2012_data

if __name__ == '__main__':
  build_voc2012_data.main()
