"""Removing the colour map from palette ground truth (VOC SegmentationClass):
each palette PNG saved as a single-channel PNG of its indices.

The `deeplab-remove-gt-colormap` command
(`deeplab.cli.remove_gt_colormap`) runs `convert`.
"""
import os


import numpy as np
from PIL import Image

from deeplab import files


def remove_colormap(path):
  """Index array of a palette (or single-channel) label image."""
  with Image.open(path) as img:
    if img.mode not in ('P', 'L'):
      raise ValueError('%s is %s, not a palette or single-channel image.'
                       % (path, img.mode))
    return np.asarray(img, dtype=np.uint8)


def convert(original_gt_folder, output_dir, segmentation_format='png'):
  """Converts every label of the folder; returns the number written."""
  if not os.path.isdir(original_gt_folder):
    raise FileNotFoundError('--original_gt_folder %s does not exist.'
                            % original_gt_folder)
  os.makedirs(output_dir, exist_ok=True)
  names = sorted(n for n in os.listdir(original_gt_folder)
                 if n.endswith('.' + segmentation_format))
  for name in names:
    raw = remove_colormap(os.path.join(original_gt_folder, name))
    files.save_png(raw, os.path.join(output_dir,
                                     os.path.splitext(name)[0] + '.png'))
  return len(names)
