"""Converts ADE20K (SceneParsing, 150 classes + 'other') to TFRecords.

Run `python datasets/build_ade20k_data.py --help` for the flags; the
command is `deeplab.cli.build_ade20k_data`.
"""
from deeplab.cli import build_ade20k_data

if __name__ == '__main__':
  build_ade20k_data.main()
