"""Dataset descriptors: split sizes, number of classes, ignore label.

The built-in descriptors are the original's (`data_generator.py`); a user's
dataset is described by the `dataset.json` that
`datasets/build_custom_data.py` writes, read by path or by name (a
`dataset.json` in the dataset directory).
"""
import dataclasses
import json
import os
from typing import Dict, List, Optional

from deeplab import errors


@dataclasses.dataclass(frozen=True)
class DatasetDescriptor:
  """What the input pipeline and evaluation need to know about a dataset."""
  name: str
  splits_to_sizes: Dict[str, int]
  num_classes: int
  ignore_label: int
  class_names: Optional[List[str]] = None
  colormap: object = 'pascal'  # A colormap name or a list of [r, g, b].
  file_pattern: str = '%s-*'
  # The largest image (height, width), when the converter recorded it.
  max_image_size: Optional[List[int]] = None

  def to_dict(self):
    """The description as a dataset.json holds it (`load_description`)."""
    return {k: (list(v) if isinstance(v, tuple) else v)
            for k, v in dataclasses.asdict(self).items()}

  def eval_crop_size(self, stride=16):
    """The smallest crop `k * stride + 1` holding every image (the
    original's evaluation pads, never crops), or None when unknown."""
    if not self.max_image_size:
      return None
    return tuple(-(-max(int(n) - 1, 1) // stride) * stride + 1
                 for n in self.max_image_size)


PASCAL_VOC_SEG = DatasetDescriptor(
    'pascal_voc_seg',
    {'train': 1464, 'train_aug': 10582, 'trainval': 2913, 'val': 1449},
    num_classes=21, ignore_label=255, colormap='pascal',
    class_names=['background', 'aeroplane', 'bicycle', 'bird', 'boat',
                 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'diningtable',
                 'dog', 'horse', 'motorbike', 'person', 'pottedplant',
                 'sheep', 'sofa', 'train', 'tv'])
CITYSCAPES = DatasetDescriptor(
    'cityscapes',
    {'train_fine': 2975, 'train_coarse': 22973, 'trainval_fine': 3475,
     'trainval_coarse': 23473, 'val_fine': 500, 'test_fine': 1525},
    num_classes=19, ignore_label=255, colormap='cityscapes',
    class_names=['road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
                 'traffic light', 'traffic sign', 'vegetation', 'terrain',
                 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train',
                 'motorcycle', 'bicycle'])
# Label 0 of ADE20K is "other", ignored in training and evaluation.
ADE20K = DatasetDescriptor(
    'ade20k', {'train': 20210, 'val': 2000}, num_classes=151, ignore_label=0,
    colormap='ade20k',
    class_names=['other'] + (
        'wall,building,sky,floor,tree,ceiling,road,bed,windowpane,grass,'
        'cabinet,sidewalk,person,earth,door,table,mountain,plant,curtain,chair,'
        'car,water,painting,sofa,shelf,house,sea,mirror,rug,field,armchair,'
        'seat,fence,desk,rock,wardrobe,lamp,bathtub,railing,cushion,base,box,'
        'column,signboard,chest of drawers,counter,sand,sink,skyscraper,'
        'fireplace,refrigerator,grandstand,path,stairs,runway,case,pool table,'
        'pillow,screen door,stairway,river,bridge,bookcase,blind,coffee table,'
        'toilet,flower,book,hill,bench,countertop,stove,palm,kitchen island,'
        'computer,swivel chair,boat,bar,arcade machine,hovel,bus,towel,light,'
        'truck,tower,chandelier,awning,streetlight,booth,television receiver,'
        'airplane,dirt track,apparel,pole,land,bannister,escalator,ottoman,'
        'bottle,buffet,poster,stage,van,ship,fountain,conveyer belt,canopy,'
        'washer,plaything,swimming pool,stool,barrel,basket,waterfall,tent,bag,'
        'minibike,cradle,oven,ball,food,step,tank,trade name,microwave,pot,'
        'animal,bicycle,lake,dishwasher,screen,blanket,sculpture,hood,sconce,'
        'vase,traffic light,tray,ashcan,fan,pier,crt screen,plate,monitor,'
        'bulletin board,shower,radiator,glass,clock,flag').split(','))

BUILTIN = {d.name: d for d in (PASCAL_VOC_SEG, CITYSCAPES, ADE20K)}
DESCRIPTION_FILE = 'dataset.json'
# A --dataset of TensorFlow Datasets: tfds:<name>.
TFDS_PREFIX = 'tfds:'


def load_description(path):
  """A descriptor from a dataset.json file (or a directory holding one)."""
  if os.path.isdir(path):
    path = os.path.join(path, DESCRIPTION_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError('Dataset description %s does not exist.' % path)
  try:
    with open(path) as f:
      doc = json.load(f)
  except ValueError as e:
    raise ValueError('Dataset description %s is not valid JSON: %s'
                     % (path, e)) from None
  if isinstance(doc, dict):
    errors.check_keys(doc, [f.name for f in dataclasses.fields(
        DatasetDescriptor)], 'Dataset description %s' % path)
  try:
    return DatasetDescriptor(
        name=doc['name'], splits_to_sizes=dict(doc['splits_to_sizes']),
        num_classes=int(doc['num_classes']),
        ignore_label=int(doc['ignore_label']),
        class_names=doc.get('class_names'),
        colormap=doc.get('colormap', 'pascal'),
        file_pattern=doc.get('file_pattern', '%s-*'),
        max_image_size=doc.get('max_image_size'))
  except (ValueError, KeyError, TypeError) as e:
    raise ValueError('Dataset description %s is not valid: %r' % (path, e))


def implied_dataset_dir(dataset, dataset_dir=None):
  """`dataset_dir`, or the folder of a `--dataset` given as a dataset.json
  path (or as the records folder itself)."""
  if dataset_dir or not dataset or dataset in BUILTIN:
    return dataset_dir
  if dataset.endswith('.json'):
    return os.path.dirname(os.path.abspath(dataset))
  if os.path.isdir(dataset):
    return dataset
  return dataset_dir


def get_dataset(dataset, dataset_dir=None):
  """The descriptor of `dataset`: a built-in name, or a dataset.json path.

  A name that is not built in is looked up as `<dataset_dir>/dataset.json`.

  Raises:
    ValueError: naming --dataset when nothing matches.
  """
  if dataset in BUILTIN:
    return BUILTIN[dataset]
  if dataset.endswith('.json') or os.path.isdir(dataset):
    return load_description(dataset)
  if dataset_dir and os.path.exists(os.path.join(dataset_dir,
                                                 DESCRIPTION_FILE)):
    desc = load_description(dataset_dir)
    if desc.name == dataset:
      return desc
  raise ValueError('--dataset=%r is not a known dataset (%s), a dataset.json '
                   'path, or the name in <dataset_dir>/dataset.json.'
                   % (dataset, ', '.join(sorted(BUILTIN))))


# The original's colormap per dataset (vis.py picks it from --dataset).
_DATASET_COLORMAPS = {'pascal_voc_seg': 'pascal', 'cityscapes': 'cityscapes',
                      'ade20k': 'ade20k', 'mapillary_vistas': 'mapillary_vistas'}


def colormap_for(dataset_name, dataset_dir=None):
  """The colour map of a dataset: the original's for the built-in ones, the
  `colormap` of a dataset.json description (a name or a list of [r, g, b]),
  else pascal."""
  if dataset_name in _DATASET_COLORMAPS:
    return _DATASET_COLORMAPS[dataset_name]
  try:
    return get_dataset(dataset_name, dataset_dir).colormap
  except (ValueError, FileNotFoundError):
    return 'pascal'
