"""Converting ADE20K (SceneParsing, 150 classes + 'other') to TFRecords.

The `deeplab-build-ade20k-data` command
(`deeplab.cli.build_ade20k_data`) runs `convert`.
"""
import os


from deeplab.datasets import build_data

NUM_CLASSES = 151  # 0 is 'other', also the ignore label.
IGNORE_LABEL = 0


def list_items(image_folder, label_folder):
  if not os.path.isdir(image_folder or ''):
    raise FileNotFoundError('Image folder %s does not exist.' % image_folder)
  names = sorted(os.path.splitext(n)[0] for n in os.listdir(image_folder)
                 if n.lower().endswith(('.jpg', '.jpeg', '.png')))
  return [build_data.Item(
      n, os.path.join(image_folder, n + '.jpg') if os.path.exists(
          os.path.join(image_folder, n + '.jpg')) else
      os.path.join(image_folder, n + '.png'),
      os.path.join(label_folder, n + '.png')) for n in names]


def convert(folders, output_dir, num_shards=4, skip_bad=False):
  """folders: {split: (image folder, label folder)}."""
  return [build_data.write_split(
      list_items(*folders[split]), output_dir, split, num_shards, NUM_CLASSES,
      IGNORE_LABEL, skip_bad=skip_bad) for split in sorted(folders)]
