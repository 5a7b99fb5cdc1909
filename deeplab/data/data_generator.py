"""The tf.data input pipeline: TFRecords (or TFDS) -> preprocessed batches.

Mirrors the original's `data_generator.Dataset`: parallel reads and decodes,
the original's preprocessing, shuffle/repeat for training, a deterministic
order for evaluation, batching and prefetching. Elements are dicts with
'image' (float32 [crop_h, crop_w, 3]), 'label' (int32 [crop_h, crop_w, 1]),
'image_name', 'height', 'width' and, for evaluation, 'original_image'
(uint8, unpadded; only with batch size 1 because sizes differ).

Errors name their source: a missing dataset directory or split, a truncated
TFRecord (file and record index), an undecodable image or a label of the wrong
shape (file, record index and the image's filename).
"""
import dataclasses
import glob
import os
import re
from typing import Optional, Tuple

import tensorflow as tf

from deeplab import common
from deeplab.data import datasets
from deeplab.data import input_preprocess



class DataError(ValueError):
  """The data cannot be read (names the file and record)."""


# The assertion of a record without the schema's image (found and described
# by `diagnose_records`).
NOT_OUR_SCHEMA = ('Record has no image/encoded feature: it is not in the '
                  'DeepLab TFRecord schema')


def _parse_record(serialized):
  features = {
      'image/encoded': tf.io.FixedLenFeature((), tf.string, default_value=''),
      'image/filename': tf.io.FixedLenFeature((), tf.string, default_value=''),
      'image/format': tf.io.FixedLenFeature((), tf.string,
                                            default_value='jpeg'),
      'image/height': tf.io.FixedLenFeature((), tf.int64, default_value=0),
      'image/width': tf.io.FixedLenFeature((), tf.int64, default_value=0),
      'image/segmentation/class/encoded': tf.io.FixedLenFeature(
          (), tf.string, default_value=''),
      'image/segmentation/class/format': tf.io.FixedLenFeature(
          (), tf.string, default_value='png'),
  }
  parsed = tf.io.parse_single_example(serialized, features)
  present = tf.debugging.Assert(
      tf.strings.length(parsed['image/encoded']) > 0,
      [NOT_OUR_SCHEMA], name='image_present')
  with tf.control_dependencies([present]):
    image = tf.io.decode_image(parsed['image/encoded'], channels=3,
                               expand_animations=False)
  label_data = parsed['image/segmentation/class/encoded']
  label = tf.cond(
      tf.strings.length(label_data) > 0,
      lambda: tf.io.decode_image(label_data, channels=1,
                                 expand_animations=False),
      lambda: tf.zeros([0, 0, 1], tf.uint8))
  return {'image': image, 'label': label,
          'image_name': parsed['image/filename'],
          'height': tf.shape(image)[0], 'width': tf.shape(image)[1]}


def diagnose_records(files):
  """Finds the first unreadable record of `files` and describes it.

  Called only after the pipeline failed, so the normal path stays fast.
  """
  for path in files:
    index = 0
    try:
      for record in tf.data.TFRecordDataset(path):
        keys = sorted(tf.train.Example.FromString(
            record.numpy()).features.feature)
        if 'image/encoded' not in keys:
          return ('record %d of %s has no image/encoded feature (its '
                  'features: %s): it was not written by a DeepLab converter. '
                  'Keep records of one schema in a --dataset_dir'
                  % (index, path, ', '.join(keys[:8]) or 'none'))
        try:
          item = _parse_record(record)
        except (tf.errors.InvalidArgumentError, ValueError) as e:
          name = ''
          try:
            example = tf.train.Example.FromString(record.numpy())
            name = example.features.feature[
                'image/filename'].bytes_list.value[0].decode()
          except Exception:  # pylint: disable=broad-except
            pass
          return ('record %d of %s (image %r) does not decode: %s'
                  % (index, path, name, str(e).splitlines()[0]))
        if item['label'].shape[0] and (
            item['label'].shape[:2] != item['image'].shape[:2]):
          return ('record %d of %s (image %r): label %s does not match image '
                  '%s' % (index, path, item['image_name'].numpy().decode(),
                          item['label'].shape[:2], item['image'].shape[:2]))
        index += 1
    except tf.errors.DataLossError as e:
      return ('%s is truncated or corrupt after record %d: %s'
              % (path, index, str(e).splitlines()[0]))
  return None


@dataclasses.dataclass
class Dataset:
  """A segmentation input pipeline (the original's data_generator.Dataset).

  Attributes mirror the original's constructor and flags.
  """
  dataset_name: str
  split_name: str
  dataset_dir: str
  batch_size: int
  crop_size: Tuple[int, int]
  min_resize_value: Optional[int] = None
  max_resize_value: Optional[int] = None
  resize_factor: Optional[int] = None
  min_scale_factor: float = 1.
  max_scale_factor: float = 1.
  scale_factor_step_size: float = 0
  model_variant: Optional[str] = None
  num_readers: int = 2
  is_training: bool = False
  should_shuffle: bool = False
  should_repeat: bool = False
  keep_aspect_ratio: bool = True
  shuffle_buffer: int = 100
  seed: Optional[int] = None
  tfds_data_dir: Optional[str] = None
  # Training and evaluation need a label in every record (a missing one is an
  # error naming the image; test splits have none). Label values outside
  # [0, num_classes) other than the ignore label are an error ('error') or
  # become the ignore label ('ignore'); None leaves them.
  require_labels: bool = False
  out_of_range_labels: Optional[str] = None
  # The flag that sets `crop_size`, named when an image does not fit it.
  crop_flag: str = 'eval_crop_size'

  def __post_init__(self):
    self.crop_size = common.parse_crop_size(self.crop_size, 'crop_size')
    self.dataset_dir = datasets.implied_dataset_dir(self.dataset_name,
                                                    self.dataset_dir)
    if self.dataset_name.startswith(datasets.TFDS_PREFIX):
      self.descriptor = None
      return
    self.descriptor = datasets.get_dataset(self.dataset_name, self.dataset_dir)
    if self.split_name not in self.descriptor.splits_to_sizes:
      raise ValueError('Split %r is not in dataset %s (splits: %s).' % (
          self.split_name, self.descriptor.name,
          ', '.join(sorted(self.descriptor.splits_to_sizes))))

  @classmethod
  def from_config(cls, config, split_name, crop_size, batch_size,
                  model_variant, **kwargs):
    """The pipeline of a job config (train, eval, vis): its `dataset`,
    `dataset_dir` and resize fields, with the job's split, crop and batch."""
    resize = config.resize
    return cls(dataset_name=config.dataset, split_name=split_name,
               dataset_dir=config.dataset_dir, batch_size=batch_size,
               crop_size=crop_size, min_resize_value=resize.min_resize_value,
               max_resize_value=resize.max_resize_value,
               resize_factor=resize.resize_factor,
               keep_aspect_ratio=resize.keep_aspect_ratio,
               model_variant=model_variant, **kwargs)

  @property
  def num_classes(self):
    return self.descriptor.num_classes if self.descriptor else None

  @property
  def ignore_label(self):
    return self.descriptor.ignore_label if self.descriptor else 255

  def files(self):
    """The TFRecord files of the split (errors name the path)."""
    if not self.dataset_dir:
      raise FileNotFoundError('--dataset_dir is required: the folder of the '
                              'TFRecords (or give --dataset as the path of '
                              'its dataset.json).')
    if not os.path.isdir(self.dataset_dir):
      raise FileNotFoundError('--dataset_dir %s does not exist.'
                              % self.dataset_dir)
    if os.path.exists(os.path.join(self.dataset_dir,
                                   '.%s.commit' % self.split_name)):
      raise DataError('Split %r in %s is mid-commit: a conversion was '
                      'interrupted while renaming its shards. Run the '
                      'converter again (it finishes the commit first).'
                      % (self.split_name, self.dataset_dir))
    pattern = os.path.join(self.dataset_dir, self.descriptor.file_pattern
                           % self.split_name)
    files = sorted(f for f in glob.glob(pattern) if f.endswith('.tfrecord')
                   or '-of-' in os.path.basename(f))
    files = [f for f in files if not f.endswith('.incomplete')]
    if not files:
      raise FileNotFoundError('No TFRecords for split %r in %s (looked for %s).'
                              % (self.split_name, self.dataset_dir, pattern))
    return files

  def _checked_label(self, item):
    """The record's label, with the checks `require_labels` and
    `out_of_range_labels` ask for (errors name the image)."""
    label = item['label']
    name = item['image_name']
    checks = []
    if self.require_labels:
      checks.append(tf.debugging.Assert(
          tf.size(label) > 0, ['Record has no label '
                               '(image/segmentation/class/encoded): image',
                               name], name='label_present'))
    num_classes = self.num_classes
    if self.out_of_range_labels and num_classes:
      wide = tf.cast(label, tf.int32)
      valid = tf.logical_or(wide < num_classes,
                            tf.equal(wide, self.ignore_label))
      if self.out_of_range_labels == 'ignore':
        label = tf.where(valid, label, tf.cast(self.ignore_label, label.dtype))
      else:
        checks.append(tf.debugging.Assert(
            tf.reduce_all(valid),
            ['Label values must be class ids 0..%d or the ignore label %d '
             '(--out_of_range_labels=ignore treats others as ignored); image'
             % (num_classes - 1, self.ignore_label), name, 'holds',
             tf.boolean_mask(wide, tf.logical_not(valid))[:5]],
            name='labels_in_range'))
    with tf.control_dependencies(checks):
      return tf.identity(label)

  def _preprocess(self, item, seed=None):
    label = self._checked_label(item)
    # Unlabelled (test) records get an all-ignore label: one element shape.
    label = tf.cond(tf.size(label) > 0, lambda: label,
                    lambda: tf.fill(tf.concat([tf.shape(item['image'])[:2],
                                               [1]], 0),
                                    tf.cast(self.ignore_label, tf.uint8)))
    same = tf.debugging.Assert(
        tf.reduce_all(tf.equal(tf.shape(label)[:2],
                               tf.shape(item['image'])[:2])),
        ['Label and image sizes differ: image', item['image_name'], 'is',
         tf.shape(item['image'])[:2], 'its label', tf.shape(label)[:2]],
        name='label_size')
    with tf.control_dependencies([same]):
      label = tf.identity(label)
    original, image, label = input_preprocess.preprocess_image_and_label(
        item['image'], label, self.crop_size[0], self.crop_size[1],
        self.min_resize_value, self.max_resize_value, self.resize_factor,
        self.min_scale_factor, self.max_scale_factor,
        self.scale_factor_step_size, self.ignore_label, self.is_training,
        self.model_variant, self.keep_aspect_ratio, seed=seed,
        image_name=item['image_name'], crop_flag=self.crop_flag)
    out = {'image': image, 'label': label, 'image_name': item['image_name'],
           'height': item['height'], 'width': item['width']}
    if not self.is_training and self.batch_size == 1:
      out['original_image'] = tf.cast(original, tf.uint8)
    return out

  def _tfds_source(self):
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    name = self.dataset_name[len(datasets.TFDS_PREFIX):]
    ds, info = tfds.load(name, split=self.split_name, with_info=True,
                         data_dir=self.tfds_data_dir,
                         shuffle_files=self.should_shuffle)
    image_key = next((k for k in ('image', 'image_left') if k in
                      info.features), None)
    label_key = next((k for k in ('segmentation_mask', 'label', 'mask',
                                  'segmentation') if k in info.features), None)
    if image_key is None or label_key is None:
      raise ValueError('TFDS dataset %s has no image and segmentation mask '
                       'features (has %s).' % (name, list(info.features)))

    def convert(example):
      image = example[image_key]
      label = example[label_key]
      if label.shape.rank == 2:
        label = label[..., None]
      name_feature = example.get('file_name', example.get('image/filename',
                                                          tf.constant('')))
      return {'image': tf.cast(image, tf.uint8), 'label': tf.cast(label,
                                                                  tf.uint8),
              'image_name': tf.strings.as_string(name_feature)
                            if name_feature.dtype != tf.string else
                            name_feature,
              'height': tf.shape(image)[0], 'width': tf.shape(image)[1]}
    return ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)

  def make_dataset(self, input_context=None, skip=0):
    """The tf.data.Dataset of preprocessed (batched) examples.

    Args:
      input_context: A `tf.distribute.InputContext` when called through
        `distribute_datasets_from_function`. Each input pipeline (worker)
        then takes every n-th element of one common order and batches at the
        per-replica size, so the replicas of one step together see exactly
        the global batch a single worker would see.

    `skip` drops that many elements of the (global) stream first: a resumed
    seeded job continues exactly where it stopped.

    With `seed` set (training), the order is fixed and each element's random
    scale, crop and flip are drawn statelessly from (seed, element index):
    the stream of batches is the same for any number of threads, replicas
    or workers.
    """
    pipelines = input_context.num_input_pipelines if input_context else 1
    seed = self.seed
    if seed is None and pipelines > 1:
      seed = 0  # Every worker must shuffle alike for the shards to partition.
    deterministic = not self.should_shuffle or seed is not None
    if self.dataset_name.startswith(datasets.TFDS_PREFIX):
      ds = self._tfds_source()
      parse = lambda x: x
    else:
      file_list = self.files()
      files = tf.data.Dataset.from_tensor_slices(file_list)
      if self.should_shuffle:
        files = files.shuffle(len(file_list), seed=seed)
      # Evaluation reads shards one after another, so its order is the split
      # list's; decoding below stays parallel either way.
      ds = files.interleave(
          tf.data.TFRecordDataset,
          cycle_length=self.num_readers if self.should_shuffle else 1,
          num_parallel_calls=tf.data.AUTOTUNE,
          deterministic=deterministic)
      parse = _parse_record
    # Shuffling the serialized records (before decoding) keeps the buffer
    # small; the result is the original's shuffle of decoded examples.
    if self.should_shuffle:
      ds = ds.shuffle(self.shuffle_buffer, seed=seed)
    if self.should_repeat:
      ds = ds.repeat()
    stateless = self.is_training and seed is not None
    ds = ds.enumerate()
    if skip:
      ds = ds.skip(skip)  # Still raw records: skipping decodes nothing.
    if pipelines > 1:
      ds = ds.shard(pipelines, input_context.input_pipeline_id)

    def process(index, record):
      element_seed = (tf.stack([tf.constant(seed, tf.int64), index])
                      if stateless else None)
      return self._preprocess(parse(record), element_seed)

    ds = ds.map(process, num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=deterministic)
    batch_size = self.batch_size
    if input_context:
      batch_size = input_context.get_per_replica_batch_size(self.batch_size)
    ds = ds.batch(batch_size, drop_remainder=self.is_training)
    return ds.prefetch(tf.data.AUTOTUNE)

  def __iter__(self):
    """Iterates, turning read errors into a `DataError` naming the record."""
    iterator = iter(self.make_dataset())
    while True:
      try:
        yield next(iterator)
      except StopIteration:
        return
      except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
        raise read_error(self, e) from e


def _assertion_text(message):
  """The words of a failed tf.debugging.Assert, without TensorFlow's frame
  (`{{function_node ...}} assertion failed:`)."""
  message = re.sub(r'^\{\{function_node [^}]*\}\}\s*', '', message)
  return message.replace('assertion failed: ', '')


def read_error(dataset, error):
  """A `DataError` naming the record behind a pipeline `error`."""
  message = _assertion_text(str(error).splitlines()[0])
  where = None
  # A label check names its image itself; anything else is looked for.
  if ('assertion failed' not in str(error) or NOT_OUR_SCHEMA in message) and (
      not dataset.dataset_name.startswith(datasets.TFDS_PREFIX)):
    where = diagnose_records(dataset.files())
  return DataError('Cannot read split %r of %s: %s' % (
      dataset.split_name, dataset.dataset_dir, where or message))
