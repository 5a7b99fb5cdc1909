r"""Converts a user's own segmentation dataset to TFRecords + a description.

  python datasets/build_custom_data.py --dataset_name=my_data \
    --image_folder=data/images --label_folder=data/masks \
    [--list_folder=data/lists | --val_fraction=0.1] \
    [--label_type=index|palette|rgb --color_table=colors.json] \
    [--num_classes=N] [--ignore_label=255] [--class_names=bg,cat,dog] \
    --output_dir=data/tfrecord

Masks have the image's file name with a .png extension. Index and palette
PNGs hold class ids; RGB masks need --color_table, a JSON list of
{"name": ..., "color": [r, g, b]} in class order (colour
`"ignore_color": [r, g, b]` at the top level, if given, maps to the ignore
label). Splits come from `<split>.txt` lists, or a deterministic
train/val split of all images by --val_fraction. The output directory
receives the shards and `dataset.json` (name, splits and sizes, num_classes,
ignore_label, class names, colormap), which training, evaluation and
visualisation read with `--dataset=<output_dir>/dataset.json`.
"""
import json
import os

from absl import app
from absl import flags

from deeplab import files
from deeplab.datasets import build_data
from deeplab import colormaps

FLAGS = flags.FLAGS

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff')


def load_color_table(path, ignore_label):
  """(color -> label dict, class names, colormap) from a colour-table file."""
  with open(path) as f:
    doc = json.load(f)
  classes = doc['classes'] if isinstance(doc, dict) else doc
  table = {tuple(c['color']): i for i, c in enumerate(classes)}
  if isinstance(doc, dict) and doc.get('ignore_color') is not None:
    table[tuple(doc['ignore_color'])] = ignore_label
  return table, [c.get('name', str(i)) for i, c in enumerate(classes)], [
      list(c['color']) for c in classes]


def image_items(image_folder, label_folder, names=None):
  if not os.path.isdir(image_folder or ''):
    raise FileNotFoundError('--image_folder %s does not exist.' % image_folder)
  files = {os.path.splitext(n)[0]: n for n in sorted(os.listdir(image_folder))
           if n.lower().endswith(IMAGE_EXTENSIONS)}
  if names is None:
    names = sorted(files)
  items = []
  for name in names:
    image = os.path.join(image_folder, files.get(name, name + '.jpg'))
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


def define_flags():
  """Registers the script's flags (the original's names)."""
  flags.DEFINE_string('dataset_name', 'custom', 'Name of the dataset.')
  flags.DEFINE_string('image_folder', None, 'Folder containing images.')
  flags.DEFINE_string('label_folder', None, 'Folder containing label masks.')
  flags.DEFINE_string('list_folder', None, 'Folder of <split>.txt image lists.')
  flags.DEFINE_float('val_fraction', 0.1,
                     'Without lists: share of images (sorted, every k-th) for '
                     'the val split.')
  flags.DEFINE_enum('label_type', 'index', ['index', 'palette', 'rgb'],
                    'How masks encode classes.')
  flags.DEFINE_string('color_table', None, 'JSON colour table for RGB masks.')
  flags.DEFINE_integer('num_classes', None, 'Number of classes.')
  flags.DEFINE_integer('ignore_label', 255, 'Label of ignored pixels.')
  flags.DEFINE_list('class_names', None, 'Class names in id order.')
  flags.DEFINE_string('output_dir', None, 'Where to write TFRecords.')
  flags.DEFINE_integer('num_shards', 4, 'Shards per split.')
  flags.DEFINE_bool('skip_bad', False,
                    'Skip (and report) bad images/labels instead of stopping.')


def main(unused_argv):
  for flag in ('image_folder', 'label_folder', 'output_dir'):
    if not FLAGS[flag].value:
      raise app.UsageError('--%s is required.' % flag)
  summaries, description = build_data.guarded(
      convert, FLAGS.dataset_name, FLAGS.image_folder, FLAGS.label_folder,
      FLAGS.output_dir, FLAGS.num_classes, FLAGS.ignore_label,
      FLAGS.class_names, FLAGS.label_type, FLAGS.color_table,
      FLAGS.list_folder, FLAGS.val_fraction, FLAGS.num_shards,
      FLAGS.skip_bad)
  build_data.print_summary(summaries, description['class_names'])
  print('wrote', os.path.join(FLAGS.output_dir, 'dataset.json'))


def run():
  """Console entry point."""
  build_data.run_script(define_flags, main)


if __name__ == '__main__':
  run()
