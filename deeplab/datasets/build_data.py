"""Writes segmentation datasets as TFRecords in the original's schema.

Each example holds `image/encoded`, `image/filename`, `image/format`,
`image/height`, `image/width`, `image/channels`,
`image/segmentation/class/encoded` and `image/segmentation/class/format`,
and a split is sharded as `<split>-%05d-of-%05d.tfrecord`, so records written
by the original scripts are read here and vice versa.

Every pair is checked before it is written: images must decode (grayscale,
palette, RGBA, CMYK and 16-bit images are converted to 8-bit RGB PNG; 8-bit
RGB files are stored as they are), labels must be single-channel (palette
PNGs are stored as their indices), match the image size and hold only
values in [0, num_classes) or the ignore label. A bad item stops the
conversion with an error naming the file, or, with `skip_bad=True`, is
skipped and reported. Shards are written under temporary names and renamed
only when the whole split succeeded, so a failed run never leaves output that
looks complete.
"""
import collections
import dataclasses
import io
import json
import math
import os
import sys
from typing import Callable, Dict, Iterable, List, Optional, Sequence

from absl import logging
import numpy as np
from PIL import Image
import tensorflow as tf

from deeplab import progress as progress_lib


class BadItemError(ValueError):
  """An image/label pair that cannot be converted (names the file)."""


class Interrupted(KeyboardInterrupt):
  """A conversion stopped by Ctrl-C; the message says what is complete."""


@dataclasses.dataclass
class Item:
  """One example to convert: image path, label path (None for test sets)."""
  name: str
  image_path: str
  label_path: Optional[str] = None


@dataclasses.dataclass
class SplitSummary:
  split: str
  num_images: int = 0
  skipped: List[str] = dataclasses.field(default_factory=list)
  converted_images: int = 0
  class_histogram: Dict[int, int] = dataclasses.field(
      default_factory=collections.Counter)
  files: List[str] = dataclasses.field(default_factory=list)
  # The largest height and width of its images (the evaluation crop must
  # hold them).
  max_size: List[int] = dataclasses.field(default_factory=lambda: [0, 0])


def _int64(values):
  if not isinstance(values, (list, tuple)):
    values = [values]
  return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def _bytes(value):
  if isinstance(value, str):
    value = value.encode('utf-8')
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def image_seg_to_tfexample(image_data, filename, height, width, seg_data,
                           image_format='jpg', label_format='png'):
  """A tf.train.Example in the original's schema."""
  features = {
      'image/encoded': _bytes(image_data),
      'image/filename': _bytes(filename),
      'image/format': _bytes(image_format),
      'image/height': _int64(height),
      'image/width': _int64(width),
      'image/channels': _int64(3),
  }
  if seg_data is not None:
    features['image/segmentation/class/encoded'] = _bytes(seg_data)
    features['image/segmentation/class/format'] = _bytes(label_format)
  return tf.train.Example(features=tf.train.Features(feature=features))


def _png_bytes(array):
  buf = io.BytesIO()
  Image.fromarray(array).save(buf, format='PNG')
  return buf.getvalue()


def read_image(path):
  """(encoded bytes, format, height, width, converted?) of an image file.

  8-bit RGB JPEG/PNG files are kept byte for byte; anything else is converted
  to an 8-bit RGB PNG.

  Raises:
    BadItemError: naming the file when it is missing or does not decode.
  """
  if not os.path.exists(path):
    raise BadItemError('Image %s is listed but missing.' % path)
  try:
    with open(path, 'rb') as f:
      data = f.read()
    with Image.open(io.BytesIO(data)) as img:
      img.load()
      fmt = (img.format or '').lower()
      if img.mode == 'RGB' and fmt in ('jpeg', 'png'):
        return data, 'jpg' if fmt == 'jpeg' else 'png', img.height, img.width, \
            False
      if img.mode.startswith('I'):
        arr = np.asarray(img, dtype=np.float64)
        arr = arr / (65535.0 if arr.max() > 255 else 255.0) * 255.0
        arr = np.clip(arr + 0.5, 0, 255).astype(np.uint8)
        rgb = np.stack([arr] * 3, axis=-1)
      else:
        rgb = np.asarray(img.convert('RGB'), dtype=np.uint8)
      return _png_bytes(rgb), 'png', rgb.shape[0], rgb.shape[1], True
  except (OSError, SyntaxError, ValueError) as e:
    raise BadItemError('Image %s cannot be decoded: %s' % (path, e)) from e


def read_label(path, num_classes, ignore_label, color_table=None):
  """(PNG bytes, label array) of a label file, validated.

  Args:
    path: Label image: single-channel PNG (index), palette PNG (its
      indices are the labels), or RGB with `color_table`.
    num_classes: Valid labels are [0, num_classes) and `ignore_label`.
    ignore_label: The label of pixels to ignore.
    color_table: Optional {(r, g, b): label} for RGB colour masks.

  Raises:
    BadItemError: naming the file and the offending values.
  """
  if not os.path.exists(path):
    raise BadItemError('Label %s is listed but missing.' % path)
  try:
    with Image.open(path) as img:
      img.load()
      mode = img.mode
      if color_table is not None and mode in ('RGB', 'RGBA', 'P'):
        rgb = np.asarray(img.convert('RGB'), dtype=np.uint32)
        label = colors_to_labels(rgb, color_table, ignore_label, path)
      elif mode in ('L', 'P'):
        label = np.asarray(img, dtype=np.uint8)
      elif mode.startswith('I'):
        label = np.asarray(img)
        if label.max() > 255:
          raise BadItemError('Label %s has values up to %d; labels must fit 8 '
                             'bits.' % (path, label.max()))
        label = label.astype(np.uint8)
      else:
        raise BadItemError(
            'Label %s is %s, not a single-channel or palette PNG (RGB colour '
            'masks need a colour table).' % (path, mode))
  except (OSError, SyntaxError) as e:
    raise BadItemError('Label %s cannot be decoded: %s' % (path, e)) from e
  values = np.unique(label)
  bad = [int(v) for v in values if v >= num_classes and v != ignore_label]
  if bad:
    raise BadItemError('Label %s has values %s outside [0, %d) that are not '
                       'the ignore label %d.' % (path, bad[:10], num_classes,
                                                 ignore_label))
  return _png_bytes(label), label


def colors_to_labels(rgb, color_table, ignore_label, path='<array>'):
  """Maps an RGB mask to labels with {(r, g, b): label}; unknown -> error."""
  keys = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
  label = np.full(keys.shape, ignore_label, np.int64)
  known = np.zeros(keys.shape, bool)
  for color, value in color_table.items():
    r, g, b = (int(c) for c in color)
    hit = keys == ((r << 16) | (g << 8) | b)
    label[hit] = value
    known |= hit
  if not known.all():
    unknown = np.unique(keys[~known])[:5]
    raise BadItemError('Label %s has colours not in the colour table: %s.' % (
        path, [(int(k >> 16) & 255, int(k >> 8) & 255, int(k) & 255)
                    for k in unknown]))
  return label.astype(np.uint8)


def shard_filename(output_dir, split, shard_id, num_shards):
  return os.path.join(output_dir, '%s-%05d-of-%05d.tfrecord'
                      % (split, shard_id, num_shards))


def write_split(items: Sequence[Item], output_dir: str, split: str,
                num_shards: int, num_classes: int, ignore_label: int,
                skip_bad: bool = False, color_table=None,
                label_transform: Optional[Callable] = None) -> SplitSummary:
  """Validates and writes one split as sharded TFRecords.

  Args:
    items: The examples, in order.
    output_dir: Where the shards go.
    split: Split name (shard file prefix).
    num_shards: Number of shards (the original: 4 for VOC/ADE20K, 10 for
      Cityscapes).
    num_classes, ignore_label: Valid label values.
    skip_bad: Skip (and report) bad items instead of stopping.
    color_table: {(r, g, b): label} for RGB colour masks.
    label_transform: Optional function applied to the label array before
      validation (e.g. Cityscapes label id -> train id).

  Returns:
    A `SplitSummary`.

  Raises:
    BadItemError: On the first bad item unless `skip_bad`; also when the
      split is empty. Nothing of this split is left behind then.
  """
  if not items:
    raise BadItemError('Split %r is empty: no images listed.' % split)
  os.makedirs(output_dir, exist_ok=True)
  for split_done in recover(output_dir):
    logging.warning('Finished the interrupted commit of split %s in %s.',
                    split_done, output_dir)
  summary = SplitSummary(split)
  examples = []
  progress = progress_lib.Progress(len(items), 'checking ' + split)
  for i, item in enumerate(items):
    try:
      image_data, fmt, height, width, converted = read_image(item.image_path)
      seg_data = None
      if item.label_path is not None:
        if label_transform is None:
          seg_data, label = read_label(item.label_path, num_classes,
                                       ignore_label, color_table)
        else:
          raw_data, raw = read_label(item.label_path, 256, 256, color_table)
          label = label_transform(raw)
          seg_data, label = _validated(label, item.label_path, num_classes,
                                       ignore_label)
        if label.shape != (height, width):
          raise BadItemError(
              'Image %s is %dx%d but its label %s is %dx%d.' % (
                  item.image_path, height, width, item.label_path,
                  label.shape[0], label.shape[1]))
        summary.class_histogram.update(
            dict(zip(*[a.tolist() for a in np.unique(label,
                                                     return_counts=True)])))
    except BadItemError as e:
      if not skip_bad:
        raise
      summary.skipped.append(str(e))
      sys.stderr.write('\nskipped: %s\n' % e)
      continue
    summary.converted_images += int(converted)
    summary.max_size = [max(summary.max_size[0], height),
                        max(summary.max_size[1], width)]
    examples.append(image_seg_to_tfexample(
        image_data, item.name, height, width, seg_data, fmt))
    progress.update(i + 1)
  progress.update(len(items), force=True)
  if not examples:
    raise BadItemError('Split %r has no valid images (%d skipped).'
                       % (split, len(summary.skipped)))
  summary.num_images = len(examples)
  summary.files = _write_shards(examples, output_dir, split, num_shards)
  return summary


def _validated(label, path, num_classes, ignore_label):
  label = np.asarray(label)
  bad = [int(v) for v in np.unique(label)
         if (v < 0 or v >= num_classes) and v != ignore_label]
  if bad:
    raise BadItemError('Label %s has values %s outside [0, %d) that are not '
                       'the ignore label %d.' % (path, bad[:10], num_classes,
                                                 ignore_label))
  label = label.astype(np.uint8)
  return _png_bytes(label), label


def _journal(output_dir, split):
  return os.path.join(output_dir, '.%s.commit' % split)


def _write_shards(examples, output_dir, split, num_shards):
  """Writes shards under temporary names, then commits them as one set.

  The commit (renames into place, removal of an earlier run's shards with
  another shard count) is first written down in a journal; an interrupted
  commit is finished by the next run (`recover`), so a split is never left
  with the old shards deleted and only part of the new ones.
  """
  num_shards = max(1, min(num_shards, len(examples)))
  per_shard = int(math.ceil(len(examples) / float(num_shards)))
  final, temporary = [], []
  committing = False
  try:
    for shard_id in range(num_shards):
      name = shard_filename(output_dir, split, shard_id, num_shards)
      tmp = os.path.join(output_dir, '.%s.incomplete' % os.path.basename(name))
      temporary.append(tmp)
      final.append(name)
      with tf.io.TFRecordWriter(tmp) as writer:
        for example in examples[shard_id * per_shard:(shard_id + 1) *
                                per_shard]:
          writer.write(example.SerializeToString())
    old = [f for f in tf.io.gfile.glob(os.path.join(
        output_dir, '%s-*-of-*.tfrecord' % split)) if f not in final]
    journal = _journal(output_dir, split)
    with open(journal + '.tmp', 'w') as f:
      json.dump({'rename': list(zip(temporary, final)), 'remove': old}, f)
    committing = True
    os.replace(journal + '.tmp', journal)
    try:
      _finish_commit(journal)
    except KeyboardInterrupt:
      # A few renames are left: finish them rather than leave a journal.
      _finish_commit(journal)
      raise Interrupted('Interrupted after split %r of %s was written and '
                        'committed (%d shards); the splits after it were not '
                        'written: run the same command again.'
                        % (split, output_dir, len(final))) from None
  except KeyboardInterrupt as e:
    if isinstance(e, Interrupted):
      raise
    raise Interrupted('Interrupted while writing split %r: its temporary '
                      'shards were removed and the split in %s is as it was '
                      'before; splits converted before it are complete. Run '
                      'the same command again.' % (split, output_dir)) from None
  finally:
    if not committing:  # Before the journal, nothing of this run counts.
      for tmp in temporary:
        if os.path.exists(tmp):
          os.remove(tmp)
  return final


def _finish_commit(journal):
  """Carries out a commit journal (idempotent) and removes it."""
  with open(journal) as f:
    plan = json.load(f)
  for tmp, name in plan['rename']:
    if os.path.exists(tmp):
      os.replace(tmp, name)
  for old in plan['remove']:
    if os.path.exists(old):
      os.remove(old)
  os.remove(journal)


def recover(output_dir):
  """Finishes the commits an interrupted conversion left in `output_dir`
  and removes its unfinished temporary shards.

  Returns:
    The splits whose commit was finished.
  """
  finished = []
  for journal in sorted(tf.io.gfile.glob(os.path.join(output_dir,
                                                      '.*.commit'))):
    try:
      _finish_commit(journal)
    except (OSError, ValueError, KeyError) as e:
      raise BadItemError('Cannot finish the interrupted conversion recorded '
                         'in %s: %s' % (journal, e)) from e
    finished.append(os.path.basename(journal)[1:-len('.commit')])
  for tmp in tf.io.gfile.glob(os.path.join(output_dir, '.*.incomplete')):
    os.remove(tmp)
  for tmp in tf.io.gfile.glob(os.path.join(output_dir, '.*.commit.tmp')):
    os.remove(tmp)
  return finished


def print_summary(summaries: Iterable[SplitSummary], class_names=None,
                  stream=None):
  """Images per split and the class pixel histogram."""
  stream = stream or sys.stdout
  for s in summaries:
    stream.write('%s: %d images in %d shard(s)%s%s\n' % (
        s.split, s.num_images, len(s.files),
        ', %d converted to RGB PNG' % s.converted_images
        if s.converted_images else '',
        ', %d skipped' % len(s.skipped) if s.skipped else ''))
    for reason in s.skipped:
      stream.write('  skipped: %s\n' % reason)
    total = sum(s.class_histogram.values()) or 1
    for label in sorted(s.class_histogram):
      name = ''
      if class_names and label < len(class_names):
        name = ' ' + class_names[label]
      stream.write('  class %3d%s: %d pixels (%.2f%%)\n' % (
          label, name, s.class_histogram[label],
          100.0 * s.class_histogram[label] / total))
