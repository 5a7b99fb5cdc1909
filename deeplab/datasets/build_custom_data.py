"""Converting a user's own segmentation dataset to TFRecords and a
dataset.json describing it.

The `deeplab-build-custom-data` command
(`deeplab.cli.build_custom_data`) runs `convert`.
"""
import json
import os


from deeplab import errors
from deeplab import files
from deeplab.datasets import build_data
from deeplab import colormaps

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff')


def load_color_table(path, ignore_label):
  """(color -> label dict, class names, colormap) from a colour-table file."""
  with open(path) as f:
    doc = json.load(f)
  source = '--color_table=%s' % path
  if isinstance(doc, dict):
    errors.check_keys(doc, ('classes', 'ignore_color'), source)
  classes = doc['classes'] if isinstance(doc, dict) else doc
  for entry in classes:
    errors.check_keys(entry, ('name', 'color'), source)
  table = {tuple(c['color']): i for i, c in enumerate(classes)}
  if isinstance(doc, dict) and doc.get('ignore_color') is not None:
    table[tuple(doc['ignore_color'])] = ignore_label
  return table, [c.get('name', str(i)) for i, c in enumerate(classes)], [
      list(c['color']) for c in classes]


def image_items(image_folder, label_folder, names=None):
  if not os.path.isdir(image_folder or ''):
    raise FileNotFoundError('--image_folder %s does not exist.' % image_folder)
  by_stem = {os.path.splitext(n)[0]: n
             for n in sorted(os.listdir(image_folder))
             if n.lower().endswith(IMAGE_EXTENSIONS)}
  if names is None:
    names = sorted(by_stem)
  items = []
  for name in names:
    image = os.path.join(image_folder, by_stem.get(name, name + '.jpg'))
    items.append(build_data.Item(name, image,
                                 os.path.join(label_folder, name + '.png')))
  return items


def split_items(image_folder, label_folder, list_folder=None,
                val_fraction=0.1):
  """{split: items} from lists, or a deterministic train/val split."""
  if list_folder:
    splits = {}
    for list_file in sorted(os.listdir(list_folder)):
      if list_file.endswith('.txt'):
        with open(os.path.join(list_folder, list_file)) as f:
          names = [line.strip() for line in f if line.strip()]
        splits[list_file[:-4]] = image_items(image_folder, label_folder, names)
    if not splits:
      raise FileNotFoundError('No <split>.txt lists in %s.' % list_folder)
    return splits
  items = image_items(image_folder, label_folder)
  if not 0 <= val_fraction < 1:
    raise ValueError('--val_fraction must be in [0, 1).')
  if val_fraction == 0 or len(items) < 2:
    return {'train': items}
  step = max(2, int(round(1 / val_fraction)))
  return {'train': [it for i, it in enumerate(items) if i % step],
          'val': [it for i, it in enumerate(items) if not i % step]}


def convert(name, image_folder, label_folder, output_dir, num_classes=None,
            ignore_label=255, class_names=None, label_type='index',
            color_table_path=None, list_folder=None, val_fraction=0.1,
            num_shards=4, skip_bad=False):
  """Converts the dataset; returns (summaries, description dict)."""
  table, colormap = None, None
  if label_type == 'rgb':
    if not color_table_path:
      raise ValueError('--label_type=rgb needs --color_table.')
    table, names, colormap = load_color_table(color_table_path, ignore_label)
    class_names = class_names or names
    num_classes = num_classes or len(names)
  if num_classes is None:
    if not class_names:
      raise ValueError('Give --num_classes or --class_names.')
    num_classes = len(class_names)
  if class_names and len(class_names) != num_classes:
    raise ValueError('--class_names has %d names for %d classes.'
                     % (len(class_names), num_classes))
  splits = split_items(image_folder, label_folder, list_folder, val_fraction)
  summaries = [build_data.write_split(
      items, output_dir, split, num_shards, num_classes, ignore_label,
      skip_bad=skip_bad, color_table=table)
               for split, items in sorted(splits.items())]
  description = {
      'name': name,
      'splits_to_sizes': {s.split: s.num_images for s in summaries},
      'num_classes': num_classes,
      'ignore_label': ignore_label,
      'class_names': class_names or [str(i) for i in range(num_classes)],
      'colormap': colormap or colormaps.pascal_colormap()[
          :num_classes].tolist(),
      'file_pattern': '%s-*',
      'max_image_size': [max(s.max_size[0] for s in summaries),
                         max(s.max_size[1] for s in summaries)],
  }
  files.write_json(os.path.join(output_dir, 'dataset.json'), description,
                   indent=2)
  return summaries, description
