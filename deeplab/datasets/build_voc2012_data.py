"""Converting PASCAL VOC 2012 (and the SBD train_aug set) to TFRecords.

The `deeplab-build-voc2012-data` command
(`deeplab.cli.build_voc2012_data`) runs `convert`.
"""
import os


from deeplab.datasets import build_data

NUM_CLASSES = 21
IGNORE_LABEL = 255


def list_items(list_path, image_folder, label_folder, image_format):
  """Items of a split list (one image name per line)."""
  with open(list_path) as f:
    names = [line.strip() for line in f if line.strip()]
  return [build_data.Item(
      name, os.path.join(image_folder, '%s.%s' % (name, image_format)),
      os.path.join(label_folder, name + '.png')) for name in names]


def convert(list_folder, image_folder, label_folder, output_dir,
            image_format='jpg', num_shards=4, skip_bad=False,
            train_aug_label_folder=None):
  """Converts every split list of `list_folder`; returns the summaries."""
  if not os.path.isdir(list_folder):
    raise FileNotFoundError('--list_folder %s does not exist.' % list_folder)
  lists = sorted(f for f in os.listdir(list_folder) if f.endswith('.txt'))
  if not lists:
    raise FileNotFoundError('No <split>.txt lists in --list_folder %s.'
                            % list_folder)
  summaries = []
  for list_file in lists:
    split = list_file[:-4]
    labels = label_folder
    if split == 'train_aug' and train_aug_label_folder:
      labels = train_aug_label_folder
    items = list_items(os.path.join(list_folder, list_file), image_folder,
                       labels, image_format)
    summaries.append(build_data.write_split(
        items, output_dir, split, num_shards, NUM_CLASSES, IGNORE_LABEL,
        skip_bad=skip_bad))
  return summaries
