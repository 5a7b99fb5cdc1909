"""The original's model zoo by name: registry, import, presets, bad inputs.

No download: tarballs are built here in the original's layout (a top
folder with `model.ckpt-<step>.*` and `frozen_inference_graph.pb`) from the
variable manifests or from this project's models with the reference
values.
"""
import errno
import http.server
import json
import os
import re
import tarfile
import threading

import numpy as np
from PIL import Image
import pytest

import conftest
import helpers
import reference
from deeplab import checkpoints
from deeplab import common
from deeplab import files
from deeplab import inference
from deeplab import model as model_lib
from deeplab import model_stats
from deeplab import presets
from deeplab import rundir
from deeplab import runtime
from deeplab import zoo
from deeplab.cli import zoo as zoo_cli
from deeplab.core import names
from deeplab.data import datasets

MS_VOC = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)

# model_zoo.md (latest revision) and quantize.md, transcribed: name ->
# (tarball, dataset, backbone, depth multiplier, decoder stride,
#  [(eval OS, eval scales, flip, Multiply-Adds B, mIoU %)]).
PUBLISHED = {
    'mobilenetv2_dm05_coco_voc_trainaug': (
        'deeplabv3_mnv2_dm05_pascal_trainaug_2018_10_01.tar.gz',
        'pascal_voc_seg', 'mobilenet_v2', 0.5, None,
        [(16, (1.0,), False, 0.88, 70.19)]),
    'mobilenetv2_dm05_coco_voc_trainval': (
        'deeplabv3_mnv2_dm05_pascal_trainval_2018_10_01.tar.gz',
        'pascal_voc_seg', 'mobilenet_v2', 0.5, None,
        [(8, (1.0,), False, 2.84, 71.83)]),
    'mobilenetv2_coco_voc_trainaug': (
        'deeplabv3_mnv2_pascal_train_aug_2018_01_29.tar.gz', 'pascal_voc_seg',
        'mobilenet_v2', 1.0, None,
        [(16, (1.0,), False, 2.75, 75.32), (8, MS_VOC, True, 152.59, 77.33)]),
    'mobilenetv2_coco_voc_trainval': (
        'deeplabv3_mnv2_pascal_trainval_2018_01_29.tar.gz', 'pascal_voc_seg',
        'mobilenet_v2', 1.0, None, [(8, MS_VOC, True, 152.59, 80.25)]),
    'xception65_coco_voc_trainaug': (
        'deeplabv3_pascal_train_aug_2018_01_04.tar.gz', 'pascal_voc_seg',
        'xception_65', 1.0, 4,
        [(16, (1.0,), False, 54.17, 82.20), (8, MS_VOC, True, 3055.35, 83.58)]),
    'xception65_coco_voc_trainval': (
        'deeplabv3_pascal_trainval_2018_01_04.tar.gz', 'pascal_voc_seg',
        'xception_65', 1.0, 4, [(8, MS_VOC, True, 3055.35, 87.80)]),
    'mobilenetv2_dm05_coco_voc_trainaug_8bit': (
        'deeplabv3_mnv2_dm05_pascal_train_aug_8bit_2019_04_26.tar.gz',
        'pascal_voc_seg', 'mobilenet_v2', 0.5, None,
        [(16, (1.0,), False, 0.88, 69.65)]),
    'mobilenetv2_coco_voc_trainaug_8bit': (
        'deeplabv3_mnv2_pascal_train_aug_8bit_2019_04_26.tar.gz',
        'pascal_voc_seg', 'mobilenet_v2', 1.0, None,
        [(16, (1.0,), False, 2.75, 74.26)]),
    'mobilenetv2_coco_cityscapes_trainfine': (
        'deeplabv3_mnv2_cityscapes_train_2018_02_05.tar.gz', 'cityscapes',
        'mobilenet_v2', 1.0, None,
        [(16, (1.0,), False, 21.27, 70.71),
         (8, (0.75, 1.0, 1.25), True, 433.24, 73.57)]),
    'mobilenetv3_large_cityscapes_trainfine': (
        'deeplab_mnv3_large_cityscapes_trainfine_2019_11_15.tar.gz',
        'cityscapes', 'mobilenet_v3_large_seg', 1.0, 8,
        [(32, (1.0,), False, 15.95, 72.41)]),
    'mobilenetv3_small_cityscapes_trainfine': (
        'deeplab_mnv3_small_cityscapes_trainfine_2019_11_15.tar.gz',
        'cityscapes', 'mobilenet_v3_small_seg', 1.0, 8,
        [(32, (1.0,), False, 4.63, 68.99)]),
    'xception65_cityscapes_trainfine': (
        'deeplabv3_cityscapes_train_2018_02_06.tar.gz', 'cityscapes',
        'xception_65', 1.0, 4,
        [(16, (1.0,), False, 418.64, 78.79),
         (8, (0.75, 1.0, 1.25), True, 8677.92, 80.42)]),
    'xception71_dpc_cityscapes_trainfine': (
        'deeplab_cityscapes_xception71_trainfine_2018_09_08.tar.gz',
        'cityscapes', 'xception_71', 1.0, 4,
        [(16, (1.0,), False, 502.07, 80.31)]),
    'xception71_dpc_cityscapes_trainval': (
        'deeplab_cityscapes_xception71_trainvalfine_2018_09_08.tar.gz',
        'cityscapes', 'xception_71', 1.0, 4,
        [(8, (0.75, 1.0, 1.25, 1.5, 1.75, 2.0), True, None, 82.66)]),
    'edgetpu-deeplab': (
        'edgetpu-deeplab_2020_03_09.tar.gz', 'cityscapes',
        'mobilenet_edgetpu', 1.0, None,
        [(32, (1.0,), False, 5.6, 70.6), (16, (1.0,), False, 7.1, 74.1)]),
    'edgetpu-deeplab-slim': (
        'edgetpu-deeplab-slim_2020_03_09.tar.gz', 'cityscapes',
        'mobilenet_edgetpu', 0.75, None,
        [(32, (1.0,), False, 3.5, 70.0), (16, (1.0,), False, 4.3, 73.2)]),
    'mobilenetv2_ade20k_train': (
        'deeplabv3_mnv2_ade20k_train_2018_12_03.tar.gz', 'ade20k',
        'mobilenet_v2', 1.0, 4, [(16, (1.0,), False, None, 32.04)]),
    'xception65_ade20k_train': (
        'deeplabv3_xception_ade20k_train_2018_05_29.tar.gz', 'ade20k',
        'xception_65', 1.0, 4, [(8, MS_VOC, True, None, 45.65)]),
    'xception_41_imagenet': ('xception_41_2018_05_09.tar.gz', None,
                             'xception_41', 1.0, 4, []),
    'xception_65_imagenet': ('deeplabv3_xception_2018_01_04.tar.gz', None,
                             'xception_65', 1.0, 4, []),
    'xception_65_imagenet_coco': (
        'xception_65_coco_pretrained_2018_10_02.tar.gz', None, 'xception_65',
        1.0, 4, []),
    'xception_71_imagenet': ('xception_71_2018_05_09.tar.gz', None,
                             'xception_71', 1.0, 4, []),
    'resnet_v1_50_beta_imagenet': ('resnet_v1_50_2018_05_04.tar.gz', None,
                                   'resnet_v1_50_beta', 1.0, 4, []),
    'resnet_v1_101_beta_imagenet': ('resnet_v1_101_2018_05_04.tar.gz', None,
                                    'resnet_v1_101_beta', 1.0, 4, []),
}


def test_registry_carries_the_published_tables():
  assert set(zoo.BY_NAME) == set(PUBLISHED)
  for name, (tarball, dataset, variant, dm, decoder, rows) in \
      PUBLISHED.items():
    entry = zoo.get(name)
    values = entry.option_values()
    assert entry.tarball == tarball and entry.url.endswith(tarball), name
    assert entry.dataset == dataset and entry.model_variant == variant, name
    assert values.get('depth_multiplier', 1.0) == dm, name
    assert (values.get('decoder_output_stride') or (None,))[0] == decoder, \
        name
    got = [(r.output_stride, r.eval_scales, r.add_flipped_images,
            r.multiply_adds, r.miou) for r in entry.rows]
    assert got == rows, name
    assert entry.built, name
    for row in entry.rows:
      rates = entry.option_values(row.output_stride)['atrous_rates']
      if variant.startswith('xception') and 'dpc' not in name:
        assert rates == {16: (6, 12, 18), 8: (12, 24, 36)}[row.output_stride]
      else:
        assert rates is None, name
  assert zoo.get('mobilenetv2_coco_voc_trainaug_8bit').quantized
  assert zoo.get('xception_65_imagenet').backbone_only
  # The listing: a table, and one JSON document (a list of entries).
  lines = zoo_cli.listing(as_json=True)
  as_json = json.loads('\n'.join(lines))
  assert len(as_json) == len(PUBLISHED)
  for item in as_json:
    for key in ('name', 'model_variant', 'output_stride', 'atrous_rates',
                'decoder_output_stride', 'num_classes', 'depth_multiplier',
                'eval_scales', 'add_flipped_images', 'built'):
      assert key in item, key
  assert len(zoo_cli.listing()) == len(PUBLISHED) + 1


def test_an_entry_not_built_says_so():
  entry = zoo.Entry('nas_example', 'x.tar.gz', '1MB', 'cityscapes',
                    'nas_pnasnet')
  assert not entry.built
  with pytest.raises(zoo.ZooError, match='nas_example is in the original.s '
                     'model zoo, but its architecture .nas_pnasnet. is not '
                     'built'):
    entry.model_options()


def test_unknown_name_suggests_the_nearest():
  with pytest.raises(zoo.ZooError, match="Did you mean "
                     "mobilenetv2_coco_voc_trainaug"):
    zoo.get('mobilenetv2_voc_trainaug')


# The published Multiply-Adds, counted as deeplab-model-stats counts (the
# original's count: docs/flops.md), for every entry. Where they differ by
# more than 1%: EdgeTPU-DeepLab at output stride 32 (-1.7%) and -slim at 32
# (-2.3%) and 16 (-1.1%; it rounds to the published 4.3B), where the same
# networks' logits equal the original's (P10, P11).
MADDS_TOLERANCE = {('edgetpu-deeplab', 32): 0.02,
                   ('edgetpu-deeplab-slim', 32): 0.025,
                   ('edgetpu-deeplab-slim', 16): 0.015}


@pytest.mark.parametrize('name', sorted(
    n for n, e in zoo.BY_NAME.items()
    if any(r.multiply_adds for r in e.rows) and
    not e.multiply_adds_are_flops))
def test_multiply_adds_match_the_published_column(name):
  entry = zoo.get(name)
  crop = (entry.multiply_adds_crop or
          zoo.DATASET_EVAL[entry.dataset]['eval_crop_size'])
  for row in entry.rows:
    if row.multiply_adds is None:
      continue
    options = entry.model_options(row.output_stride, crop_size=crop)
    count = model_stats.model_statistics(
        options, row.eval_scales, row.add_flipped_images)['multiply_adds']
    tolerance = MADDS_TOLERANCE.get((name, row.output_stride), 0.01)
    assert abs(count / 1e9 / row.multiply_adds - 1) <= tolerance, (
        name, row.output_stride, count / 1e9, row.multiply_adds)



@pytest.mark.parametrize('name', sorted(
    n for n, e in zoo.BY_NAME.items() if e.multiply_adds_are_flops))
def test_published_flops_are_about_twice_the_multiply_adds(name):
  # model_zoo.md gives MobileNetV3's floating-point operations: two per
  # multiply-add, plus the elementwise hard-swish, gating and resizing.
  entry = zoo.get(name)
  row = entry.rows[0]
  options = entry.model_options(row.output_stride, crop_size=zoo.DATASET_EVAL[
      entry.dataset]['eval_crop_size'])
  count = model_stats.model_statistics(options)['multiply_adds'] / 1e9
  assert 2 * count <= row.multiply_adds <= 2.5 * count, (name, count)

# Tarballs in the original's layout ------------------------------------------


def model_values(entry, output_stride=None, seed=0):
  """name -> reference-recipe value of every variable of `entry`'s model."""
  model = model_lib.build_model(entry.model_options(output_stride))
  conftest.assign_recipe_values(model, seed)
  values = {n: v.numpy() for n, v in names.tf1_variable_map(model).items()}
  for name in list(values):  # Learned ranges of a quantization-aware model.
    if name.endswith('/act_quant/min'):
      values[name] = np.float32(-1.0)
    elif name.endswith('/act_quant/max'):
      values[name] = np.float32(6.0)
      # The original's weight ranges too (not used here).
      values[name.replace('act_quant', 'weights_quant')] = np.float32(1.0)
  return values


@pytest.fixture(scope='module')
def voc_tarball(tmp_path_factory):
  """mobilenetv2_coco_voc_trainaug as released, from its manifest."""
  return helpers.voc_mobilenet_tarball(tmp_path_factory.mktemp('zoo_tarballs'))


def _pattern_c():
  return np.asarray(Image.open(os.path.join(
      reference.DATA_DIR, 'images', 'pattern_C_129x129.png')).convert('RGB'))


@pytest.mark.slow
def test_import_by_command_then_predict_with_no_model_flags(voc_tarball,
                                                            tmp_path):
  out = str(tmp_path / 'voc')
  imported = helpers.run([
      '-m', 'deeplab.zoo', '--name=mobilenetv2_coco_voc_trainaug',
      '--source=' + voc_tarball, '--output_dir=' + out])
  assert imported.returncode == 0, imported.stderr[-2000:]
  assert 'Wrote %s (mobilenet_v2 at output stride 16; published stride 16, ' \
      'scale 1: 75.32%% val)' % out in imported.stdout
  saved = rundir.load_options(out)
  assert saved == conftest.ZOO_OPTIONS
  info = zoo.read_zoo_file(out)
  assert info['class_names'][15] == 'person'
  assert info['defaults']['eval_crop_size'] == [513, 513]
  image = str(tmp_path / 'c.png')
  Image.fromarray(_pattern_c()).save(image)
  npz = str(tmp_path / 'out.npz')
  predicted = helpers.run([
      'deeplab-predict', '--checkpoint=' + out, '--image=' + image,
      '--output_npz=' + npz])
  assert predicted.returncode == 0, predicted.stderr[-2000:]
  # What the raw checkpoint with the original's flags predicts.
  with tarfile.open(voc_tarball) as tar:
    tar.extractall(str(tmp_path / 'raw'))
  raw = str(tmp_path / 'raw' / 'deeplabv3_mnv2_pascal_train_aug' /
            'model.ckpt-30000')
  want = inference.predict_image(
      _pattern_c(), conftest.ZOO_OPTIONS.replace(crop_size=(513, 513)), raw)
  got = np.load(npz)
  np.testing.assert_array_equal(got['predictions'], want['predictions'])
  np.testing.assert_allclose(got['logits'], want['logits'], atol=1e-6)


@pytest.mark.slow
def test_eval_runs_the_published_row_of_an_import_with_no_flags(
    voc_tarball, voc_records, tmp_path):
  out = str(tmp_path / 'voc_os8')
  zoo.import_checkpoint('mobilenetv2_coco_voc_trainaug', out, voc_tarball,
                        output_stride=8)
  evaluated = helpers.run([
      'eval.py', '--checkpoint_dir=' + out, '--dataset_dir=' + voc_records,
      '--eval_logdir=' + str(tmp_path / 'eval')])
  assert evaluated.returncode == 0, evaluated.stderr[-2000:]
  assert 'mIoU' in evaluated.stdout
  result = json.load(open(tmp_path / 'eval' / 'metrics_latest.json'))
  assert result['eval_scales'] == list(MS_VOC)
  assert result['add_flipped_images'] is True
  assert result['model_options']['output_stride'] == 8
  assert result['model_options']['crop_size'] == [513, 513]
  assert result['class_names'][15] == 'person'


@pytest.mark.parametrize('name,output_stride', [
    ('mobilenetv2_dm05_coco_voc_trainaug', None),
    ('mobilenetv2_coco_cityscapes_trainfine', 8),
    ('mobilenetv2_ade20k_train', None),
    ('mobilenetv2_coco_voc_trainaug_8bit', None),
    pytest.param('xception65_coco_voc_trainaug', 8, marks=pytest.mark.slow),
])
def test_imported_entries_predict_what_the_raw_checkpoint_predicts(
    name, output_stride, tmp_path):
  entry = zoo.get(name)
  values = model_values(entry, output_stride)
  tarball = helpers.make_tarball(str(tmp_path / entry.tarball), values, 'release',
                         step=0)
  out = str(tmp_path / 'imported')
  zoo.import_checkpoint(name, out, tarball, output_stride)
  model = presets.from_preset(out,
                              inference_options=common.InferenceOptions())
  raw_prefix = reference.write_checkpoint(values, str(tmp_path / 'raw' /
                                                       'model.ckpt'))
  raw, _ = runtime.load(entry.model_options(output_stride), raw_prefix)
  images = conftest.random_images(1, 65, 81)
  np.testing.assert_array_equal(model(images)['predictions'],
                                raw(images)['predictions'])
  assert model.class_names == datasets.BUILTIN[entry.dataset].class_names
  info = zoo.read_zoo_file(out)
  assert info['row']['output_stride'] == entry.row(output_stride).output_stride
  assert tuple(info['defaults']['eval_scales']) == entry.row(
      output_stride).eval_scales


@pytest.mark.slow
def test_an_imagenet_backbone_imports_its_backbone(tmp_path):
  entry = zoo.get('xception_41_imagenet')
  values = {n: v for n, v in model_values(entry).items()
            if n.startswith('xception_41/')}
  values['xception_41/logits/weights'] = np.zeros((1, 1, 2048, 1001),
                                                  np.float32)
  tarball = helpers.make_tarball(str(tmp_path / entry.tarball), values, 'xception_41')
  out = str(tmp_path / 'backbone')
  _, report = zoo.import_checkpoint(entry.name, out, tarball)
  assert report.unused == ['xception_41/logits/weights']
  assert all(n.startswith('xception_41/') for n in report.restored)
  saved = dict(checkpoints.read_variable_shapes(
      os.path.join(out, 'model.ckpt')))
  assert 'aspp0/weights' in saved  # The whole model, backbone restored.


def test_from_preset_by_name_segments_a_picture(voc_tarball, tmp_path,
                                                monkeypatch):
  monkeypatch.setenv('DEEPLAB_HOME', str(tmp_path / 'home'))
  import deeplab  # pylint: disable=g-import-not-at-top
  model = deeplab.from_preset('mobilenetv2_coco_voc_trainaug',
                              source=voc_tarball)
  labels = model.segment(_pattern_c())
  assert labels.shape == (129, 129) and labels.dtype == np.int32
  assert os.path.isdir(tmp_path / 'home' / 'presets' /
                       'mobilenetv2_coco_voc_trainaug_os16')
  # Imported once: the second call reads the cached folder.
  again = deeplab.from_preset('mobilenetv2_coco_voc_trainaug')
  np.testing.assert_array_equal(again.segment(_pattern_c()), labels)


def test_from_preset_offline_speaks_python(tmp_path, monkeypatch):
  monkeypatch.setenv('DEEPLAB_HOME', str(tmp_path / 'home'))
  monkeypatch.setattr(zoo.catalog, 'DOWNLOAD_ROOT', 'http://127.0.0.1:9/')
  import deeplab  # pylint: disable=g-import-not-at-top
  with pytest.raises(zoo.ZooError) as e:
    deeplab.from_preset('mobilenetv2_coco_voc_trainaug')
  message = str(e.value)
  tarball = zoo.get('mobilenetv2_coco_voc_trainaug').tarball
  assert ("pass it: deeplab.from_preset('mobilenetv2_coco_voc_trainaug', "
          "source='/path/to/%s')" % tarball) in message, message
  assert '--' not in message
  # No network traceback chained to it: the message says it all.
  assert e.value.__cause__ is None and e.value.__suppress_context__
  with pytest.raises(zoo.ZooError, match=r'sorted\(deeplab.zoo.BY_NAME\) '
                     'lists every name') as e:
    deeplab.from_preset('mobilenetv2_voc')
  assert 'deeplab-zoo' not in str(e.value)


def test_list_json_is_one_document():
  out = helpers.run(['-m', 'deeplab.zoo', '--list', '--json'])
  assert out.returncode == 0, out.stderr
  entries = json.loads(out.stdout)
  assert isinstance(entries, list) and len(entries) == len(PUBLISHED)


# Bad inputs -----------------------------------------------------------------


def test_bad_tarballs_and_folders_are_refused_with_nothing_written(
    voc_tarball, tmp_path):
  name = 'mobilenetv2_coco_voc_trainaug'
  out = str(tmp_path / 'out')
  truncated = helpers.make_tarball(
      str(tmp_path / 'broken.tar.gz'), reference.manifest_values(
          reference.load_manifest('mobilenet_v2_modelzoo')), truncate=True)
  with pytest.raises(zoo.ZooError, match='cannot be used: it is corrupt or '
                     'truncated'):
    zoo.import_checkpoint(name, out, truncated)
  # 2 KB overwritten in the middle: the archive lists, its data is bad.
  damaged = str(tmp_path / 'damaged.tar.gz')
  with open(voc_tarball, 'rb') as f:
    data = bytearray(f.read())
  middle = len(data) // 2
  data[middle:middle + 2048] = os.urandom(2048)
  with open(damaged, 'wb') as f:
    f.write(bytes(data))
  with pytest.raises(zoo.ZooError, match=r'--source=%s cannot be used: it is '
                     r'corrupt or truncated \(%d bytes; .*\)\. Download http'
                     % (re.escape(damaged), len(data))):
    zoo.import_checkpoint(name, out, damaged)
  other = helpers.make_tarball(str(tmp_path / 'dm05.tar.gz'), model_values(zoo.get(
      'mobilenetv2_dm05_coco_voc_trainaug')), 'dm05')
  with pytest.raises(zoo.ZooError, match='is not mobilenetv2_coco_voc_'
                     'trainaug .mobilenet_v2, pascal_voc_seg.'):
    zoo.import_checkpoint(name, out, other)
  assert not os.path.exists(out)
  # A folder holding something else, or another import: left untouched.
  logdir = tmp_path / 'logdir'
  logdir.mkdir()
  (logdir / 'model.ckpt-5.index').write_bytes(b'x')
  with pytest.raises(files.NotOursError, match='left untouched'):
    zoo.import_checkpoint(name, str(logdir), voc_tarball)
  zoo.import_checkpoint(name, out, voc_tarball)
  with pytest.raises(zoo.ZooError, match='already holds another model '
                     r'\(mobilenetv2_coco_voc_trainaug at output stride 16\)'):
    zoo.import_checkpoint('mobilenetv2_coco_voc_trainaug', out, voc_tarball,
                          output_stride=8)
  zoo.import_checkpoint(name, out, voc_tarball)  # The same one: replaced.
  assert zoo.is_zoo_folder(out)
  assert not [n for n in os.listdir(tmp_path) if '.staging-' in n or
              '.old-' in n]


def test_a_full_disk_leaves_nothing_half_written(voc_tarball, tmp_path,
                                                 monkeypatch):
  out = str(tmp_path / 'out')

  def full(*args, **kwargs):
    raise OSError(errno.ENOSPC, 'No space left on device', out)

  monkeypatch.setattr(checkpoints, 'save_weights', full)
  with pytest.raises(OSError, match='No space left'):
    zoo.import_checkpoint('mobilenetv2_coco_voc_trainaug', out, voc_tarball)
  assert os.listdir(tmp_path) == []


class _Server(http.server.ThreadingHTTPServer):
  """Serves one file with Range support; the first answer breaks off
  half-way (a dropped connection)."""
  data = b''
  broken_once = True
  ranges = []


class _Handler(http.server.BaseHTTPRequestHandler):

  def do_GET(self):  # pylint: disable=invalid-name
    data, start = self.server.data, 0
    header = self.headers.get('Range')
    self.server.ranges.append(header)
    if header:
      start = int(header.split('=')[1].split('-')[0])
      self.send_response(206)
    else:
      self.send_response(200)
    body = data[start:]
    self.send_header('Content-Length', str(len(body)))
    self.end_headers()
    if self.server.broken_once:
      self.server.broken_once = False
      self.wfile.write(body[:len(body) // 2])
      self.wfile.flush()
      self.connection.shutdown(2)
      return
    self.wfile.write(body)

  def log_message(self, *args):
    del args


def test_a_broken_download_resumes_and_no_network_says_what_to_do(
    voc_tarball, tmp_path, monkeypatch):
  monkeypatch.setenv('DEEPLAB_HOME', str(tmp_path / 'cache'))
  server = _Server(('127.0.0.1', 0), _Handler)
  with open(voc_tarball, 'rb') as f:
    server.data = f.read()
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  url = 'http://127.0.0.1:%d/%s' % (server.server_address[1],
                                    os.path.basename(voc_tarball))
  entry = zoo.get('mobilenetv2_coco_voc_trainaug')
  try:
    with pytest.raises(zoo.ZooError, match='stopped at .* run the same '
                       'command again to resume'):
      zoo.fetch(entry, url)
    part = os.path.join(zoo.cache_dir(), os.path.basename(voc_tarball)) + \
        '.part'
    assert 0 < os.path.getsize(part) < len(server.data)
    path = zoo.fetch(entry, url)
  finally:
    server.shutdown()
  assert server.ranges[-1] == 'bytes=%d-' % (len(server.data) // 2)
  with open(path, 'rb') as f:
    assert f.read() == server.data
  # Nothing listens here: the message names the URL and --source.
  with pytest.raises(zoo.ZooError, match=r'Cannot download http://127.0.0.1:9/'
                     r'x.tar.gz .* --source=/path/to/x.tar.gz'):
    zoo.fetch(entry, 'http://127.0.0.1:9/x.tar.gz')


def test_the_command_says_one_line_for_a_bad_name(tmp_path):
  out = helpers.run([
      '-m', 'deeplab.zoo', '--name=xception65_voc',
      '--output_dir=' + str(tmp_path / 'x')])
  assert out.returncode == 1
  assert "'xception65_voc' is not in the model zoo. Did you mean" in out.stderr
  assert 'xception65_coco_voc_trainaug' in out.stderr.splitlines()[0]
  assert 'Traceback' not in out.stderr
  assert not os.path.exists(tmp_path / 'x')
