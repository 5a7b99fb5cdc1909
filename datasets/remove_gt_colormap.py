"""Removes the colour map from palette ground truth (VOC SegmentationClass).

Run `python datasets/remove_gt_colormap.py --help` for the flags; the
command is `deeplab.cli.remove_gt_colormap`.
"""
from deeplab.cli import remove_gt_colormap

if __name__ == '__main__':
  remove_gt_colormap.main()
