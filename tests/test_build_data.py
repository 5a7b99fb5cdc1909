"""Tests of the TFRecord converters (datasets/): schema, splits, bad input."""
import io
import json
import os

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from deeplab.datasets import build_ade20k_data
from deeplab.datasets import build_cityscapes_data
from deeplab.datasets import build_custom_data
from deeplab.datasets import build_data
from deeplab.datasets import build_voc2012_data
from deeplab.datasets import remove_gt_colormap
from deeplab.data import synthetic

ORIGINAL_SCHEMA = {
    'image/encoded': tf.io.FixedLenFeature((), tf.string),
    'image/filename': tf.io.FixedLenFeature((), tf.string),
    'image/format': tf.io.FixedLenFeature((), tf.string),
    'image/height': tf.io.FixedLenFeature((), tf.int64),
    'image/width': tf.io.FixedLenFeature((), tf.int64),
    'image/channels': tf.io.FixedLenFeature((), tf.int64),
    'image/segmentation/class/encoded': tf.io.FixedLenFeature((), tf.string),
    'image/segmentation/class/format': tf.io.FixedLenFeature((), tf.string),
}


def read_records(pattern):
  out = []
  for path in sorted(tf.io.gfile.glob(pattern)):
    for record in tf.data.TFRecordDataset(path):
      out.append(tf.io.parse_single_example(record, ORIGINAL_SCHEMA))
  return out


@pytest.fixture
def voc(tmp_path):
  return synthetic.generate(str(tmp_path / 'raw'), num_train=6, num_val=3,
                            height=40, width=52)


def _convert_voc(voc, out, **kw):
  return build_voc2012_data.convert(voc['list_folder'], voc['image_folder'],
                                    voc['label_folder'], out, **kw)


def test_voc_round_trip_through_the_original_schema(voc, tmp_path):
  out = str(tmp_path / 'tfrecord')
  summaries = _convert_voc(voc, out)
  assert {s.split: s.num_images for s in summaries} == {
      'train': 6, 'trainval': 9, 'val': 3}
  assert sorted(os.listdir(out))[:4] == [
      'train-%05d-of-00004.tfrecord' % i for i in range(4)]
  records = read_records(os.path.join(out, 'val-*'))
  assert [r['image/filename'].numpy().decode() for r in records] == [
      '2026_%06d' % i for i in (6, 7, 8)]
  first = records[0]
  assert first['image/format'].numpy() == b'jpg'
  assert first['image/channels'].numpy() == 3
  assert (first['image/height'].numpy(), first['image/width'].numpy()) == (
      40, 52)
  with open(os.path.join(voc['image_folder'], '2026_000006.jpg'), 'rb') as f:
    assert first['image/encoded'].numpy() == f.read()  # Stored as is.
  label = tf.io.decode_png(first['image/segmentation/class/encoded']).numpy()
  palette = np.asarray(Image.open(os.path.join(voc['label_folder'],
                                               '2026_000006.png')))
  np.testing.assert_array_equal(label[..., 0], palette)  # Indices, not RGB.
  assert set(np.unique(label)) <= {0, 1, 2, 3, 4, 255}
  assert 255 in np.unique(label)


def _write_pair(folder, name, image, label, image_ext='jpg'):
  os.makedirs(os.path.join(folder, 'img'), exist_ok=True)
  os.makedirs(os.path.join(folder, 'lab'), exist_ok=True)
  path = os.path.join(folder, 'img', '%s.%s' % (name, image_ext))
  if isinstance(image, bytes):
    with open(path, 'wb') as f:
      f.write(image)
  else:
    image.save(path)
  if label is not None:
    Image.fromarray(label).save(os.path.join(folder, 'lab', name + '.png'))
  return build_data.Item(name, path, os.path.join(folder, 'lab',
                                                  name + '.png'))


def _rgb(h=20, w=30):
  return Image.fromarray(np.random.RandomState(0).randint(
      0, 255, (h, w, 3), dtype=np.uint8))


def _label(h=20, w=30, value=1):
  return np.full((h, w), value, np.uint8)


def _jpeg_bytes(img):
  buf = io.BytesIO()
  img.save(buf, format='JPEG')
  return buf.getvalue()


@pytest.mark.parametrize('case, message', [
    ('corrupt', 'cannot be decoded'), ('truncated', 'cannot be decoded'),
    ('size', 'is 20x30 but its label'), ('range', r'values \[7\]'),
    ('missing_image', 'listed but missing'),
    ('missing_label', 'listed but missing'), ('rgb_label', 'colour table')])
def test_bad_items_stop_with_the_file_named(tmp_path, case, message):
  folder = str(tmp_path / 'data')
  good = _write_pair(folder, 'good', _rgb(), _label())
  image, label = _rgb(), _label()
  if case == 'corrupt':
    image = b'\xff\xd8 this is not a jpeg'
  elif case == 'truncated':
    image = _jpeg_bytes(_rgb())[:200]
  elif case == 'size':
    label = _label(21, 30)
  elif case == 'range':
    label = _label(value=7)
  elif case == 'rgb_label':
    label = np.zeros((20, 30, 3), np.uint8)
  bad = _write_pair(folder, 'bad', image, label)
  if case == 'missing_image':
    os.remove(bad.image_path)
  if case == 'missing_label':
    os.remove(bad.label_path)
  out = str(tmp_path / 'out')
  # An earlier complete run must survive a failed one untouched.
  build_data.write_split([good], out, 'train', 2, 5, 255)
  before = {n: open(os.path.join(out, n), 'rb').read()
            for n in os.listdir(out)}
  with pytest.raises(build_data.BadItemError, match=message) as err:
    build_data.write_split([good, bad], out, 'train', 2, 5, 255)
  assert 'bad' in str(err.value)
  after = {n: open(os.path.join(out, n), 'rb').read() for n in os.listdir(out)}
  assert after == before
  summary = build_data.write_split([good, bad, good], out, 'train', 2, 5, 255,
                                   skip_bad=True)
  assert summary.num_images == 2 and len(summary.skipped) == 1
  assert 'bad' in summary.skipped[0]
  assert sorted(os.listdir(out)) == ['train-00000-of-00002.tfrecord',
                                     'train-00001-of-00002.tfrecord']


def test_empty_split_is_an_error(tmp_path):
  with pytest.raises(build_data.BadItemError, match='empty'):
    build_data.write_split([], str(tmp_path), 'val', 4, 21, 255)


@pytest.mark.parametrize('mode', ['L', 'RGBA', 'CMYK', 'I;16', 'P'])
def test_unusual_image_modes_become_rgb_png(tmp_path, mode):
  if mode == 'I;16':
    img = Image.fromarray(np.full((20, 30), 30000, np.uint16))
    ext = 'png'
  else:
    img = Image.new(mode, (30, 20))
    ext = 'jpg' if mode == 'CMYK' else 'png'
  item = _write_pair(str(tmp_path), 'x', img, _label(), image_ext=ext)
  summary = build_data.write_split([item], str(tmp_path / 'o'), 'train', 1, 5,
                                   255)
  assert summary.converted_images == 1
  record, = read_records(str(tmp_path / 'o' / 'train-*'))
  assert record['image/format'].numpy() == b'png'
  decoded = tf.io.decode_png(record['image/encoded']).numpy()
  assert decoded.shape == (20, 30, 3)
  if mode == 'I;16':
    assert abs(int(decoded.max()) - round(30000 / 65535 * 255)) <= 1


def test_remove_gt_colormap(voc, tmp_path):
  out = str(tmp_path / 'raw_labels')
  assert remove_gt_colormap.convert(voc['label_folder'], out) == 9
  raw = Image.open(os.path.join(out, '2026_000000.png'))
  assert raw.mode == 'L'
  np.testing.assert_array_equal(
      np.asarray(raw), np.asarray(Image.open(os.path.join(
          voc['label_folder'], '2026_000000.png'))))


def _cityscapes(root, label_ids):
  for split, city in (('train', 'aachen'), ('val', 'lindau')):
    for folder in ('leftImg8bit', 'gtFine'):
      os.makedirs(os.path.join(root, folder, split, city), exist_ok=True)
    stem = '%s_000000_000019' % city
    _rgb().save(os.path.join(root, 'leftImg8bit', split, city,
                             stem + '_leftImg8bit.png'))
    Image.fromarray(label_ids).save(os.path.join(
        root, 'gtFine', split, city, stem + '_gtFine_labelIds.png'))


def test_cityscapes_from_label_ids(tmp_path):
  root = str(tmp_path / 'cityscapes')
  ids = np.zeros((20, 30), np.uint8)
  ids[:, :10] = 7     # road -> 0
  ids[:, 10:20] = 26  # car -> 13
  ids[:, 20:] = 1     # ego vehicle -> ignored
  _cityscapes(root, ids)
  out = str(tmp_path / 'out')
  summaries = build_cityscapes_data.convert(root, out,
                                            label_source='labelIds')
  assert [s.split for s in summaries] == ['train_fine', 'val_fine']
  record, = read_records(os.path.join(out, 'val_fine-*'))
  label = tf.io.decode_png(record['image/segmentation/class/encoded']).numpy()
  assert record['image/filename'].numpy() == (
      b'lindau_000000_000019_leftImg8bit')
  np.testing.assert_array_equal(np.unique(label[:, :10]), [0])
  np.testing.assert_array_equal(np.unique(label[:, 10:20]), [13])
  np.testing.assert_array_equal(np.unique(label[:, 20:]), [255])
  with pytest.raises(build_data.BadItemError, match='labelTrainIds'):
    build_cityscapes_data.convert(root, out)  # No *_labelTrainIds.png there.


def test_ade20k(tmp_path):
  folder = str(tmp_path)
  for split in ('training', 'validation'):
    for i in range(2):
      _write_pair(os.path.join(folder, split), 'ADE_%s_%08d' % (split, i),
                  _rgb(), _label(value=150))
  summaries = build_ade20k_data.convert(
      {'train': (os.path.join(folder, 'training', 'img'),
                 os.path.join(folder, 'training', 'lab')),
       'val': (os.path.join(folder, 'validation', 'img'),
               os.path.join(folder, 'validation', 'lab'))},
      str(tmp_path / 'out'))
  assert [(s.split, s.num_images) for s in summaries] == [('train', 2),
                                                          ('val', 2)]


def test_custom_rgb_masks_with_color_table(tmp_path):
  folder = str(tmp_path / 'data')
  mask = np.zeros((20, 30, 3), np.uint8)
  mask[:, 15:] = (255, 0, 0)
  mask[0] = (255, 255, 255)
  for i in range(4):
    _write_pair(folder, 'img%d' % i, _rgb(), mask)
  table = tmp_path / 'colors.json'
  table.write_text(json.dumps({
      'classes': [{'name': 'background', 'color': [0, 0, 0]},
                  {'name': 'thing', 'color': [255, 0, 0]}],
      'ignore_color': [255, 255, 255]}))
  out = str(tmp_path / 'out')
  summaries, description = build_custom_data.convert(
      'shapes', os.path.join(folder, 'img'), os.path.join(folder, 'lab'), out,
      label_type='rgb', color_table_path=str(table), val_fraction=0.25)
  assert description['splits_to_sizes'] == {'train': 3, 'val': 1}
  assert description['num_classes'] == 2
  assert description['class_names'] == ['background', 'thing']
  with open(os.path.join(out, 'dataset.json')) as f:
    assert json.load(f)['ignore_label'] == 255
  record = read_records(os.path.join(out, 'val-*'))[0]
  label = tf.io.decode_png(record['image/segmentation/class/encoded']).numpy()
  assert label[1, 0, 0] == 0 and label[1, 20, 0] == 1 and label[0, 0, 0] == 255
  mask[5, 5] = (1, 2, 3)
  _write_pair(folder, 'img0', _rgb(), mask)
  with pytest.raises(build_data.BadItemError, match=r'colours not in .*\(1, 2, '
                                                    r'3\)'):
    build_custom_data.convert(
        'shapes', os.path.join(folder, 'img'), os.path.join(folder, 'lab'),
        out, label_type='rgb', color_table_path=str(table))


def test_voc_train_aug_from_its_own_label_folder(voc, tmp_path):
  aug = str(tmp_path / 'SegmentationClassAug')
  os.makedirs(aug)
  names = ['2026_%06d' % i for i in range(4)]
  for name in names:  # SBD labels: raw indices, here all class 3.
    Image.fromarray(np.full((40, 52), 3, np.uint8)).save(
        os.path.join(aug, name + '.png'))
  with open(os.path.join(voc['list_folder'], 'train_aug.txt'), 'w') as f:
    f.write('\n'.join(names) + '\n')
  out = str(tmp_path / 'out')
  summaries = _convert_voc(voc, out, train_aug_label_folder=aug)
  sizes = {s.split: s.num_images for s in summaries}
  assert sizes['train_aug'] == 4 and sizes['train'] == 6
  record = read_records(os.path.join(out, 'train_aug-*'))[0]
  label = tf.io.decode_png(record['image/segmentation/class/encoded']).numpy()
  assert set(np.unique(label)) == {3}
