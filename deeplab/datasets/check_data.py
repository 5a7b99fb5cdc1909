"""Checking a segmentation dataset before conversion and training, in one
go: the `deeplab-check-data` job.

`check(pairs, num_classes, ...)` reads every image/mask pair
(`folder_pairs` of a folder pair, `record_pairs` of converted TFRecords) in
parallel, never holding one, and returns a `Report`: every problem with the
file that has it, and per split the images and pixels per class, the
ignored share, image sizes and median-frequency `--label_weights`.
`format_report` gives its console lines, `bar_chart` a PNG of the class
shares.
"""
import collections
import concurrent.futures
import dataclasses
import hashlib
import io
import os
import sys
from typing import Dict, List, Optional

import numpy as np
from PIL import Image

from deeplab import colormaps
from deeplab import files
from deeplab import progress as progress_lib

ERRORS = ('no_images', 'missing_label', 'missing_image', 'unreadable',
          'size_mismatch', 'color_mask', 'palette_not_ids', 'out_of_range')
WARNINGS = ('smaller_than_crop', 'duplicate_across_splits', 'absent_class',
            'image_mode')

_FIXES = {
    'color_mask': ('colour masks map to class ids with a colour table: '
                   'deeplab-build-custom-data --label_type=rgb '
                   '--color_table=colors.json (a JSON list of {"name": ..., '
                   '"color": [r, g, b]}), or, for VOC-style palette '
                   'colours, deeplab-remove-gt-colormap'),
    'palette_not_ids': ('a palette mask\'s indices are its labels; these '
                        'are not class ids: re-save the masks with the '
                        'class ids as indices, or convert the colours with '
                        'deeplab-build-custom-data --label_type=rgb '
                        '--color_table=colors.json'),
    'out_of_range': ('give the right --num_classes, map those values to '
                     'class ids, or mark them as --ignore_label'),
    'size_mismatch': 'each mask must have its image\'s height and width',
    'missing_label': 'each image needs a mask named <image name>.png',
    'missing_image': 'each mask needs an image of the same name',
    'unreadable': 're-export or remove the file',
    'smaller_than_crop': ('training pads these with the ignore label to its '
                          'crop: train with a smaller --train_crop_size (here '
                          '--crop_size), or resize them'),
    'no_images': ('images and masks are .jpg, .jpeg, .png, .bmp or .tif '
                  'files, each mask named as its image (leaf_01.jpg, '
                  'leaf_01.png); check the folders'),
}


@dataclasses.dataclass
class ItemResult:
  """What one image/mask pair holds (no pixels kept)."""
  split: str
  name: str
  problems: List[tuple] = dataclasses.field(default_factory=list)
  size: Optional[tuple] = None
  mode: Optional[str] = None
  digest: Optional[str] = None
  counts: Dict[int, int] = dataclasses.field(default_factory=dict)


def _decode(data):
  with Image.open(io.BytesIO(data)) as img:
    img.load()
    return img.copy()


def check_pair(split, name, image_data, image_path, label_data, label_path,
               num_classes, ignore_label, crop_size=None):
  """Checks one pair from its bytes; returns an `ItemResult`."""
  result = ItemResult(split, name)
  image = label = None
  if image_data is None:
    result.problems.append(('missing_image', label_path))
  else:
    result.digest = hashlib.sha1(image_data).hexdigest()
    try:
      image = _decode(image_data)
      result.size, result.mode = (image.height, image.width), image.mode
      if image.mode not in ('RGB', 'L', 'P', 'RGBA'):
        result.problems.append(('image_mode', '%s is %s (converted to 8-bit '
                                'RGB)' % (image_path, image.mode)))
    except (OSError, SyntaxError, ValueError) as e:
      result.problems.append(('unreadable', '%s: %s' % (image_path, e)))
  if label_data is None:
    if image_data is not None:
      result.problems.append(('missing_label', image_path))
    return result
  try:
    label = _decode(label_data)
  except (OSError, SyntaxError, ValueError) as e:
    result.problems.append(('unreadable', '%s: %s' % (label_path, e)))
    return result
  if image is not None and (label.height, label.width) != result.size:
    result.problems.append(('size_mismatch', '%s is %dx%d, its image %dx%d'
                            % (label_path, label.height, label.width,
                               result.size[0], result.size[1])))
  if label.mode in ('RGB', 'RGBA'):
    rgb = np.asarray(label.convert('RGB'))
    if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and
            np.array_equal(rgb[..., 0], rgb[..., 2])):
      colours = np.unique(rgb.reshape(-1, 3), axis=0)
      result.problems.append(('color_mask', '%s is an RGB colour mask (%d '
                              'colours, e.g. %s)' % (
                                  label_path, len(colours),
                                  ', '.join(str(tuple(int(v) for v in c))
                                            for c in colours[:3]))))
      return result
    values = rgb[..., 0]
  elif label.mode in ('L', 'P') or label.mode.startswith('I'):
    values = np.asarray(label)
  else:
    result.problems.append(('unreadable', '%s: mode %s is not a label '
                            'image' % (label_path, label.mode)))
    return result
  ids, counts = np.unique(values, return_counts=True)
  bad = [int(v) for v in ids if (v < 0 or v >= num_classes) and
         v != ignore_label]
  if bad:
    kind = 'palette_not_ids' if label.mode == 'P' else 'out_of_range'
    result.problems.append((kind, '%s holds %s outside [0, %d) that are not '
                            'the ignore label %d' % (
                                label_path, bad[:8], num_classes,
                                ignore_label)))
  result.counts = {int(i): int(c) for i, c in zip(ids, counts)}
  if crop_size and result.size and (result.size[0] < crop_size[0] or
                                    result.size[1] < crop_size[1]):
    result.problems.append(('smaller_than_crop', '%s is %dx%d, the crop '
                            '%dx%d' % (image_path, result.size[0],
                                       result.size[1], crop_size[0],
                                       crop_size[1])))
  return result


def _read(path):
  if path is None or not os.path.exists(path):
    return None
  with open(path, 'rb') as f:
    return f.read()


def folder_pairs(image_folder, label_folder, list_folder=None):
  """(split, name, image path or None, label path or None) of a folder
  pair as the converters take it; every mask and every image counts."""
  from deeplab.datasets import build_custom_data  # pylint: disable=g-import-not-at-top
  for folder, flag in ((image_folder, 'image_folder'),
                       (label_folder, 'label_folder')):
    if not os.path.isdir(folder or ''):
      raise FileNotFoundError('--%s=%s does not exist.' % (flag, folder))
  images = {os.path.splitext(n)[0]: os.path.join(image_folder, n)
            for n in sorted(os.listdir(image_folder))
            if n.lower().endswith(build_custom_data.IMAGE_EXTENSIONS)}
  labels = {os.path.splitext(n)[0]: os.path.join(label_folder, n)
            for n in sorted(os.listdir(label_folder))
            if n.lower().endswith(build_custom_data.IMAGE_EXTENSIONS)}
  if list_folder:
    splits = {}
    for list_file in sorted(os.listdir(list_folder)):
      if list_file.endswith('.txt'):
        with open(os.path.join(list_folder, list_file)) as f:
          splits[list_file[:-4]] = [l.strip() for l in f if l.strip()]
  else:
    splits = {'all': sorted(set(images) | set(labels))}
  for split, names in splits.items():
    for name in names:
      yield split, name, images.get(name), labels.get(name)


def record_pairs(dataset_dir, dataset=None, split=None):
  """(split, name, image bytes, label bytes, where) of converted TFRecords
  (`dataset`: a built-in name or a dataset.json; default: the folder's)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from deeplab.data import data_generator  # pylint: disable=g-import-not-at-top
  from deeplab.data import datasets  # pylint: disable=g-import-not-at-top
  dataset = dataset or os.path.join(dataset_dir, datasets.DESCRIPTION_FILE)
  descriptor = datasets.get_dataset(dataset, dataset_dir)
  for name in ([split] if split else sorted(descriptor.splits_to_sizes)):
    shards = data_generator.Dataset(dataset, name, dataset_dir, 1,
                                    (1, 1)).files()
    for path in shards:
      for index, record in enumerate(tf.data.TFRecordDataset(path)):
        feature = tf.train.Example.FromString(
            record.numpy()).features.feature

        def get(key, feature=feature):
          value = feature[key].bytes_list.value if key in feature else []
          return value[0] if value else None

        where = '%s record %d' % (os.path.basename(path), index)
        title = (get('image/filename') or b'').decode('utf-8', 'replace')
        yield (name, title or where, get('image/encoded'),
               get('image/segmentation/class/encoded'), where)


@dataclasses.dataclass
class Report:
  """The findings and the statistics of a dataset."""
  num_classes: int
  ignore_label: int
  problems: Dict[str, List[str]] = dataclasses.field(
      default_factory=lambda: collections.defaultdict(list))
  images: Dict[str, int] = dataclasses.field(
      default_factory=collections.Counter)
  pixels: Dict[str, Dict[int, int]] = dataclasses.field(
      default_factory=lambda: collections.defaultdict(collections.Counter))
  images_with: Dict[str, Dict[int, int]] = dataclasses.field(
      default_factory=lambda: collections.defaultdict(collections.Counter))
  sizes: List[tuple] = dataclasses.field(default_factory=list)
  digests: Dict[str, set] = dataclasses.field(
      default_factory=lambda: collections.defaultdict(set))

  def add(self, result):
    for kind, text in result.problems:
      self.problems[kind].append('%s: %s' % (result.split, text))
    self.images[result.split] += 1
    if result.size:
      self.sizes.append(result.size)
    if result.digest:
      self.digests[result.digest].add((result.split, result.name))
    for label, count in result.counts.items():
      self.pixels[result.split][label] += count
      self.images_with[result.split][label] += 1

  def finish(self):
    """Cross-item checks: duplicates across splits, absent classes."""
    for digest, where in self.digests.items():
      splits = {s for s, _ in where}
      if len(splits) > 1:
        self.problems['duplicate_across_splits'].append(
            'the same image is %s' % ', '.join(
                '%s in %s' % (n, s) for s, n in sorted(where)))
    for split, counts in self.pixels.items():
      absent = [c for c in range(self.num_classes) if not counts.get(c)]
      if absent and sum(counts.values()):
        self.problems['absent_class'].append(
            '%s has no pixel of class%s %s' % (
                split, 'es' if len(absent) > 1 else '',
                ', '.join(str(c) for c in absent[:20])))
    return self

  @property
  def failed(self):
    return any(self.problems.get(k) for k in ERRORS)

  def label_weights(self, split=None):
    """Median-frequency weights over `split` (all splits when None)."""
    total = collections.Counter()
    for name, counts in self.pixels.items():
      if split in (None, name):
        total.update(counts)
    shares = np.array([total.get(c, 0) for c in range(self.num_classes)],
                      np.float64)
    labelled = shares.sum()
    if not labelled:
      return [1.0] * self.num_classes
    shares /= labelled
    median = np.median(shares[shares > 0])
    return [float(np.clip(median / s, 0.1, 10.0)) if s > 0 else 1.0
            for s in shares]

  def to_dict(self):
    heights = [s[0] for s in self.sizes] or [0]
    widths = [s[1] for s in self.sizes] or [0]
    split_for_weights = 'train' if 'train' in self.pixels else None
    return dict(
        ok=not self.failed, num_classes=self.num_classes,
        ignore_label=self.ignore_label,
        problems={k: v for k, v in self.problems.items() if v},
        images=dict(self.images),
        pixels={s: {str(k): v for k, v in sorted(c.items())}
                for s, c in self.pixels.items()},
        images_per_class={s: {str(k): v for k, v in sorted(c.items())}
                          for s, c in self.images_with.items()},
        ignored_share={s: (c.get(self.ignore_label, 0) / max(
            sum(c.values()), 1)) for s, c in self.pixels.items()},
        image_sizes=dict(min=[min(heights), min(widths)],
                         max=[max(heights), max(widths)],
                         median=[int(np.median(heights)),
                                 int(np.median(widths))]),
        label_weights=[round(w, 3) for w in self.label_weights(
            split_for_weights)])


def check(pairs, num_classes, ignore_label=255, crop_size=None, workers=None,
          progress=True, from_records=False, source=None):
  """Checks every pair; returns the `Report`.

  Args:
    pairs: From `folder_pairs` (paths) or `record_pairs` (bytes).
    num_classes: Classes; valid labels are [0, num_classes) and the ignore
      label.
    ignore_label: The ignore label.
    crop_size: (H, W): images smaller are reported.
    workers: Parallel readers (default: the CPU count).
    progress: A progress line on stderr.
    from_records: `pairs` hold bytes (records), not paths.
    source: Names what was read (folders or records), in the error of a
      dataset with nothing in it.
  """
  report = Report(num_classes, ignore_label)

  def one(pair):
    if from_records:
      split, name, image, label, where = pair
      return check_pair(split, name, image, where, label, where + ' (mask)',
                        num_classes, ignore_label, crop_size)
    split, name, image_path, label_path = pair
    return check_pair(split, name, _read(image_path), image_path,
                      _read(label_path), label_path, num_classes,
                      ignore_label, crop_size)

  items = list(pairs)
  if not items:  # An empty dataset is not fit for training.
    report.problems['no_images'].append(
        '%s: nothing to check' % (source or 'the dataset'))
  bar = progress_lib.Progress(len(items), 'checking', stream=sys.stderr) if (
      progress) else None
  with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count()) as pool:
    for done, result in enumerate(pool.map(one, items), 1):
      report.add(result)
      if bar:
        bar.update(done)
  if bar and items:
    bar.update(len(items), force=True)
  return report.finish()


def format_report(report, class_names=None):
  """The console lines: problems with their files, then the statistics."""
  d = report.to_dict()
  names = class_names or [str(i) for i in range(report.num_classes)]
  lines = []
  for kind in ERRORS + WARNINGS:
    found = d['problems'].get(kind, [])
    if not found:
      continue
    lines.append('%s %s (%d):' % ('ERROR' if kind in ERRORS else 'warning',
                                  kind.replace('_', ' '), len(found)))
    lines += ['  ' + f for f in found[:20]]
    if len(found) > 20:
      lines.append('  ... and %d more (all in --json_output)'
                   % (len(found) - 20))
    if kind in _FIXES:
      lines.append('  fix: ' + _FIXES[kind])
  splits = sorted(d['images'])
  lines.append('images: ' + (', '.join('%s %d' % (s, d['images'][s])
                                       for s in splits) or 'none'))
  sizes = d['image_sizes']
  if report.sizes:
    lines.append('image sizes (HxW): min %dx%d, median %dx%d, max %dx%d' % (
        tuple(sizes['min']) + tuple(sizes['median']) + tuple(sizes['max'])))
  header = '%-20s' % 'class' + ''.join('%22s' % s for s in splits)
  lines.append(header)
  for c in list(range(report.num_classes)) + [report.ignore_label]:
    label = names[c] if c < len(names) else 'ignore (%d)' % c
    cells = []
    for s in splits:
      pixels = report.pixels[s].get(c, 0)
      total = max(sum(report.pixels[s].values()), 1)
      cells.append('%22s' % ('%d img, %.2f%%' % (
          report.images_with[s].get(c, 0), 100.0 * pixels / total)))
    lines.append('%-20s' % label[:20] + ''.join(cells))
  lines.append('suggested: --label_weights=' + ' --label_weights='.join(
      '%g' % w for w in d['label_weights']))
  lines.append('%s' % ('FAILED: training would go wrong, see the errors '
                       'above.' if report.failed else 'OK for training' + (
                           ' (see the warnings)' if d['problems'] else '.')))
  return lines


def bar_chart(report, path, class_names=None, height=240):
  """A PNG bar chart of each class's pixel share per split."""
  from PIL import ImageDraw  # pylint: disable=g-import-not-at-top
  splits = sorted(report.pixels)
  names = class_names or [str(i) for i in range(report.num_classes)]
  bar, gap = 10, 6
  width = 40 + report.num_classes * (len(splits) * bar + gap)
  img = Image.new('RGB', (max(width, 200), height + 60), 'white')
  draw = ImageDraw.Draw(img)
  colours = colormaps.get_colormap('pascal')
  shares = {s: np.array([report.pixels[s].get(c, 0) for c in range(
      report.num_classes)], np.float64) for s in splits}
  top = max((v.max() / max(v.sum(), 1) for v in shares.values()),
            default=1) or 1
  for c in range(report.num_classes):
    x0 = 30 + c * (len(splits) * bar + gap)
    for k, s in enumerate(splits):
      share = shares[s][c] / max(shares[s].sum(), 1)
      h = int(height * share / top)
      shade = tuple(int(v * (0.6 + 0.4 * k / max(len(splits) - 1, 1)))
                    for v in colours[k % len(colours) + 1])
      draw.rectangle([x0 + k * bar, height + 10 - h, x0 + (k + 1) * bar - 1,
                      height + 10], fill=shade)
    draw.text((x0, height + 14), names[c][:6], fill='black')
  draw.text((5, height + 40), 'pixel share per class; bars: ' +
            ', '.join(splits), fill='black')
  files.save_png(np.asarray(img), path)
  return path
