"""A small synthetic dataset in the PASCAL VOC folder layout.

Images (JPEG) show textured backgrounds with a few filled shapes; each object
class has its own colour and shape, so a model can learn it. Labels are
palette PNGs (as VOC's SegmentationClass) with a 255 ("void") band around
every object, as VOC annotates boundaries. Split lists go to
ImageSets/Segmentation. Tests and the quickstart use it; nothing is
downloaded.
"""
import json
import os

import numpy as np
from PIL import Image

from deeplab import colormaps

# Class colours (RGB) and shapes of the object classes 1..N.
_COLORS = [(220, 40, 40), (40, 200, 60), (50, 80, 230), (240, 210, 40),
           (200, 60, 220), (40, 210, 220), (250, 140, 30), (120, 120, 120)]
_SHAPES = ['disk', 'box', 'diamond', 'ring', 'disk', 'box', 'diamond', 'ring']


DATASET_NAME = 'synthetic_shapes'



def grow(mask, pixels):
  """`mask` grown by `pixels` steps of its 4-neighbourhood."""
  grown = mask.copy()
  for _ in range(pixels):
    step = grown.copy()
    step[1:] |= grown[:-1]
    step[:-1] |= grown[1:]
    step[:, 1:] |= grown[:, :-1]
    step[:, :-1] |= grown[:, 1:]
    grown = step
  return grown

def class_names(num_object_classes=4):
  """'background', then each object class by its colour and shape."""
  colour_names = ['red', 'green', 'blue', 'yellow', 'magenta', 'cyan',
                  'orange', 'grey']
  return ['background'] + ['%s %s' % (colour_names[i % 8], _SHAPES[i % 8])
                           for i in range(num_object_classes)]


def colormap(num_object_classes=4):
  """Black background, then each class in the colour it is drawn with."""
  return [[0, 0, 0]] + [list(_COLORS[i % len(_COLORS)])
                        for i in range(num_object_classes)]


def write_description(records_dir, splits_to_sizes, num_object_classes=4):
  """Writes `<records_dir>/dataset.json` describing the converted records
  (`--dataset=synthetic_shapes --dataset_dir=<records_dir>`): its splits,
  classes, class names and colour map, which eval and vis use.

  Returns:
    The dataset name.
  """
  doc = {'name': DATASET_NAME, 'splits_to_sizes': dict(splits_to_sizes),
         'num_classes': num_object_classes + 1, 'ignore_label': 255,
         'class_names': class_names(num_object_classes),
         'colormap': colormap(num_object_classes)}
  path = os.path.join(records_dir, 'dataset.json')
  with open(path + '.tmp', 'w') as f:
    json.dump(doc, f, indent=1)
  os.replace(path + '.tmp', path)
  return DATASET_NAME


def _shape_mask(kind, h, w, cy, cx, r):
  yy, xx = np.mgrid[:h, :w]
  dy, dx = yy - cy, xx - cx
  if kind == 'disk':
    return dy * dy + dx * dx <= r * r
  if kind == 'box':
    return (np.abs(dy) <= r) & (np.abs(dx) <= r * 0.8)
  if kind == 'diamond':
    return np.abs(dy) + np.abs(dx) <= r
  d2 = dy * dy + dx * dx
  return (d2 <= r * r) & (d2 >= (0.5 * r) ** 2)


def make_example(rng, height, width, num_object_classes, max_objects=3,
                 void_width=1):
  """One (image uint8 [H, W, 3], label uint8 [H, W]) pair."""
  base = rng.randint(60, 140, size=3)
  noise = rng.randint(-25, 26, size=(height, width, 3))
  image = np.clip(base + noise, 0, 255).astype(np.int32)
  label = np.zeros((height, width), np.uint8)
  for _ in range(rng.randint(1, max_objects + 1)):
    cls = rng.randint(1, num_object_classes + 1)
    r = rng.randint(max(4, min(height, width) // 8),
                    max(5, min(height, width) // 3))
    cy, cx = rng.randint(0, height), rng.randint(0, width)
    mask = _shape_mask(_SHAPES[(cls - 1) % len(_SHAPES)], height, width, cy,
                       cx, r)
    color = np.array(_COLORS[(cls - 1) % len(_COLORS)])
    image[mask] = np.clip(color + rng.randint(-20, 21, size=(mask.sum(), 3)),
                          0, 255)
    grown = grow(mask, void_width)  # A void band around the object.
    label[grown & ~mask] = 255
    label[mask] = cls
  return image.astype(np.uint8), label


def generate(root, num_train=40, num_val=10, height=96, width=128,
             num_object_classes=4, seed=0):
  """Writes the dataset under `root` (VOCdevkit/VOC2012 layout).

  Returns:
    dict of the folders: image_folder, label_folder, list_folder.
  """
  rng = np.random.RandomState(seed)
  voc = os.path.join(root, 'VOCdevkit', 'VOC2012')
  folders = {'image_folder': os.path.join(voc, 'JPEGImages'),
             'label_folder': os.path.join(voc, 'SegmentationClass'),
             'list_folder': os.path.join(voc, 'ImageSets', 'Segmentation')}
  for folder in folders.values():
    os.makedirs(folder, exist_ok=True)
  palette = colormaps.pascal_colormap(256).reshape(-1).tolist()
  names = {'train': [], 'val': []}
  for i in range(num_train + num_val):
    split = 'train' if i < num_train else 'val'
    name = '2026_%06d' % i
    image, label = make_example(rng, height, width, num_object_classes)
    Image.fromarray(image).save(
        os.path.join(folders['image_folder'], name + '.jpg'), quality=95)
    png = Image.fromarray(label, mode='P')
    png.putpalette(palette)
    png.save(os.path.join(folders['label_folder'], name + '.png'))
    names[split].append(name)
  names['trainval'] = names['train'] + names['val']
  for split, split_names in names.items():
    with open(os.path.join(folders['list_folder'], split + '.txt'), 'w') as f:
      f.write('\n'.join(split_names) + '\n')
  return folders
