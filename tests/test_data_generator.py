"""Tests of the tf.data pipeline: TFRecords, TFDS, order, errors."""
import io
import os

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

import conftest
from deeplab.datasets import build_voc2012_data
from deeplab.data import data_generator
from deeplab.data import datasets
from deeplab.data import synthetic


@pytest.fixture(scope='module')
def small_voc(tmp_path_factory):
  root = tmp_path_factory.mktemp('voc')
  folders = synthetic.generate(str(root / 'raw'), num_train=6, num_val=5,
                               height=40, width=52)
  out = str(root / 'tfrecord')
  build_voc2012_data.convert(folders['list_folder'], folders['image_folder'],
                             folders['label_folder'], out)
  return out, folders


def _eval_dataset(path, split='val', crop='41,53', **kw):
  return data_generator.Dataset('pascal_voc_seg', split, path, 1, crop,
                                model_variant='xception_65', **kw)


def test_eval_is_deterministic_and_equals_decode_and_pad(small_voc):
  path, folders = small_voc
  first = conftest.read_all(_eval_dataset(path))
  second = conftest.read_all(_eval_dataset(path))
  names = [b['image_name'][0].decode() for b in first]
  assert names == ['2026_%06d' % i for i in range(6, 11)]
  assert names == [b['image_name'][0].decode() for b in second]
  item = first[0]
  jpeg = tf.io.decode_jpeg(tf.io.read_file(os.path.join(
      folders['image_folder'], names[0] + '.jpg'))).numpy()
  np.testing.assert_array_equal(item['original_image'][0], jpeg)
  np.testing.assert_array_equal(item['image'][0, :40, :52], jpeg)
  np.testing.assert_array_equal(item['image'][0, 40:], 127.5)
  label = np.asarray(Image.open(os.path.join(folders['label_folder'],
                                             names[0] + '.png')))
  np.testing.assert_array_equal(item['label'][0, :40, :52, 0], label)
  np.testing.assert_array_equal(item['label'][0, :, 52:], 255)
  assert (item['height'][0], item['width'][0]) == (40, 52)


def test_training_batches_are_cropped_shuffled_and_repeated(small_voc):
  path, _ = small_voc
  ds = data_generator.Dataset(
      'pascal_voc_seg', 'train', path, 4, (33, 33), min_scale_factor=0.5,
      max_scale_factor=2.0, scale_factor_step_size=0.25,
      model_variant='mobilenet_v2', is_training=True, should_shuffle=True,
      should_repeat=True).make_dataset()
  batches = list(ds.take(5))
  assert all(b['image'].shape == (4, 33, 33, 3) for b in batches)
  assert all(b['label'].shape == (4, 33, 33, 1) for b in batches)
  labels = np.concatenate([b['label'].numpy().ravel() for b in batches])
  assert set(np.unique(labels)) <= {0, 1, 2, 3, 4, 255}
  assert 0 in labels and 255 in labels


def test_records_written_by_the_original_schema_are_read(tmp_path):
  image = np.random.RandomState(0).randint(0, 255, (9, 11, 3), np.uint8)
  label = np.zeros((9, 11), np.uint8)
  label[3:6] = 2
  jpg, png = io.BytesIO(), io.BytesIO()
  Image.fromarray(image).save(jpg, format='JPEG')
  Image.fromarray(label).save(png, format='PNG')

  def feature(value):
    if isinstance(value, int):
      return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
  example = tf.train.Example(features=tf.train.Features(feature={
      'image/encoded': feature(jpg.getvalue()),
      'image/filename': feature(b'2007_000032'),
      'image/format': feature(b'jpeg'),
      'image/height': feature(9), 'image/width': feature(11),
      'image/channels': feature(3),
      'image/segmentation/class/encoded': feature(png.getvalue()),
      'image/segmentation/class/format': feature(b'png')}))
  os.makedirs(tmp_path / 'tf')
  with tf.io.TFRecordWriter(str(tmp_path / 'tf' /
                                'val-00000-of-00001.tfrecord')) as w:
    w.write(example.SerializeToString())
  batch, = conftest.read_all(_eval_dataset(str(tmp_path / 'tf'),
                                                 crop=(9, 11)))
  assert batch['image_name'][0] == b'2007_000032'
  np.testing.assert_array_equal(batch['label'][0, ..., 0], label)


def test_custom_dataset_by_description(small_voc, tmp_path):
  path, _ = small_voc
  desc = tmp_path / 'dataset.json'
  desc.write_text('{"name": "mine", "splits_to_sizes": {"val": 5}, '
                  '"num_classes": 5, "ignore_label": 255}')
  d = datasets.get_dataset(str(desc))
  assert (d.name, d.num_classes) == ('mine', 5)
  ds = data_generator.Dataset(str(desc), 'val', path, 1, '41,53')
  assert len(conftest.read_all(ds)) == 5


def test_clear_errors_for_missing_things(small_voc, tmp_path):
  path, _ = small_voc
  with pytest.raises(ValueError, match='--dataset=.nope'):
    datasets.get_dataset('nope')
  with pytest.raises(ValueError, match="Split 'tain'"):
    _eval_dataset(path, split='tain')
  with pytest.raises(FileNotFoundError, match='does not exist'):
    _eval_dataset(str(tmp_path / 'missing')).files()
  os.makedirs(tmp_path / 'empty')
  with pytest.raises(FileNotFoundError, match="No TFRecords for split 'val'"):
    _eval_dataset(str(tmp_path / 'empty')).files()


def test_truncated_tfrecord_names_the_file(small_voc, tmp_path):
  path, _ = small_voc
  broken = tmp_path / 'broken'
  os.makedirs(broken)
  for name in os.listdir(path):
    data = open(os.path.join(path, name), 'rb').read()
    if name == 'val-00001-of-00004.tfrecord':
      data = data[:len(data) // 2]
    (broken / name).write_bytes(data)
  with pytest.raises(data_generator.DataError,
                     match='val-00001-of-00004.tfrecord is truncated'):
    conftest.read_all(_eval_dataset(str(broken)))


def test_undecodable_image_names_the_record(tmp_path):
  example = tf.train.Example(features=tf.train.Features(feature={
      'image/encoded': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[b'\xff\xd8garbage'])),
      'image/filename': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[b'broken_photo']))}))
  os.makedirs(tmp_path / 'tf')
  path = str(tmp_path / 'tf' / 'val-00000-of-00001.tfrecord')
  with tf.io.TFRecordWriter(path) as w:
    w.write(example.SerializeToString())
  with pytest.raises(data_generator.DataError,
                     match=r"record 0 of .*val-00000-of-00001.tfrecord "
                           r"\(image 'broken_photo'\) does not decode"):
    conftest.read_all(_eval_dataset(str(tmp_path / 'tf')))


def test_tfds_source_with_mock_data():
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  def as_dataset(self, split, *args, **kwargs):
    del self, split, args, kwargs
    rng = np.random.RandomState(0)
    images = rng.randint(0, 255, (3, 20, 24, 3)).astype(np.uint8)
    masks = rng.randint(1, 4, (3, 20, 24, 1)).astype(np.uint8)
    return tf.data.Dataset.from_tensor_slices({
        'image': images, 'segmentation_mask': masks,
        'file_name': tf.constant(['a.jpg', 'b.jpg', 'c.jpg']),
        'label': np.zeros(3, np.int64)})

  with tfds.testing.mock_data(as_dataset_fn=as_dataset,
                              policy=tfds.testing.MockPolicy.USE_CODE):
    ds = data_generator.Dataset('tfds:oxford_iiit_pet', 'train', None, 1,
                                (25, 25), model_variant='mobilenet_v2')
    batches = conftest.read_all(ds)
  assert len(batches) == 3
  assert batches[0]['image'].shape == (1, 25, 25, 3)
  assert batches[1]['image_name'][0] == b'b.jpg'
  label = batches[0]['label'][0, ..., 0]
  assert set(np.unique(label[:20, :24])) <= {1, 2, 3}
  assert (label[20:] == 255).all()
