"""The single-image predictor: CLI, evaluation padding, outputs, bad input."""
import os

import numpy as np
from PIL import Image
import pytest

import helpers
import reference

from deeplab import colormaps
from deeplab import configs
from deeplab import imageio

MOBILENET_FLAGS = ['--model_variant=mobilenet_v2', '--output_stride=16']


@pytest.fixture(scope='module')
def mobilenet_ckpt(tmp_path_factory):
  return reference.write_reference_checkpoint(
      'mobilenet_v2_modelzoo', str(tmp_path_factory.mktemp('mnv2')))


def _run(args):
  return helpers.run([
      'deeplab-predict'
      ] + args, env=helpers.environment(TF_CPP_MIN_LOG_LEVEL=3))


def test_cli_reproduces_vector_p3(mobilenet_ckpt, tmp_path):
  arrays, sidecar = reference.load_vector('P3')
  image = tmp_path / 'c.png'
  Image.fromarray(arrays['image']).save(image)
  npz, png = tmp_path / 'out' / 'p3.npz', tmp_path / 'out' / 'p3.png'
  out = _run(['--checkpoint=' + mobilenet_ckpt, '--image=%s' % image,
              '--output_npz=%s' % npz, '--output_png=%s' % png,
              '--eval_crop_size=129,129'] + MOBILENET_FLAGS)
  assert out.returncode == 0, out.stderr[-2000:]
  with np.load(npz) as result:
    assert set(result.files) == {'logits', 'predictions'}
    ref = arrays['logits']
    assert result['logits'].dtype == np.float32
    assert np.abs(result['logits'] - ref).max() <= 1e-3 * ref.std()
    assert result['predictions'].dtype == np.int32
    np.testing.assert_array_equal(result['predictions'], arrays['predictions'])
    colored = np.asarray(Image.open(png))
    np.testing.assert_array_equal(
        colored, colormaps.label_to_color_image(result['predictions']))


def original_flags(build_kwargs):
  """The original's command-line flags for a vector's build options."""
  kw, flags = dict(build_kwargs), []
  for rate in kw.get('atrous_rates') or ():
    flags.append('--atrous_rates=%d' % rate)
  if kw.get('decoder_output_stride'):
    flags.append('--decoder_output_stride=%s' % ','.join(
        str(s) for s in kw['decoder_output_stride']))
  for name in ('model_variant', 'output_stride', 'num_classes',
               'depth_multiplier', 'aspp_convs_filters', 'decoder_filters',
               'dense_prediction_cell_json'):
    if kw.get(name) is not None:
      flags.append('--%s=%s' % (name, kw[name]))
  for name in ('image_pooling_crop_size', 'image_pooling_stride'):
    if kw.get(name):
      flags.append('--%s=%s' % (name, ','.join(str(v) for v in kw[name])))
  for name in ('aspp_with_concat_projection',
               'aspp_with_squeeze_and_excitation', 'decoder_use_sum_merge',
               'decoder_output_is_logits', 'image_se_uses_qsigmoid'):
    if name in kw:
      flags.append('--%s%s' % ('' if kw[name] else 'no', name))
  return flags


@pytest.mark.parametrize('vector_id', ['P7', 'P8', 'P9', 'P10', 'P11', 'P12'])
def test_cli_reproduces_the_later_vectors(vector_id, tmp_path):
  """MobileNetV3 large/small (P7, P8), Xception-71 + DPC (P9),
  EdgeTPU-DeepLab and -slim (P10, P11), MobileNetV2 ADE20K (P12): their
  checkpoints (from the manifests) through deeplab-predict with the
  original's flags, BatchNorm folded as by default."""
  arrays, sidecar = reference.load_vector(vector_id)
  checkpoint = reference.write_reference_checkpoint(
      reference.vector_manifest_name(sidecar), str(tmp_path / 'ckpt'))
  image = tmp_path / 'c.png'
  Image.fromarray(arrays['image']).save(image)
  npz = tmp_path / 'out.npz'
  crop = sidecar['build_kwargs']['crop_size']
  out = _run(['--checkpoint=' + checkpoint, '--image=%s' % image,
              '--output_npz=%s' % npz,
              '--eval_crop_size=%d,%d' % tuple(crop)] +
             original_flags(sidecar['build_kwargs']))
  assert out.returncode == 0, out.stderr[-2000:]
  with np.load(npz) as result:
    ref = arrays['logits']
    assert result['logits'].shape == ref.shape
    assert np.abs(result['logits'] - ref).max() <= 1e-3 * ref.std()
    h, w = arrays['image'].shape[:2]
    ties = reference.near_tie_mask(ref, tuple(crop), (h, w))
    mismatch = (result['predictions'] != arrays['predictions']) & ~ties
    assert mismatch.sum() == 0


@pytest.mark.parametrize('content, message', [
    (None, 'does not exist'), (b'\x89PNG\r\n\x1a\n broken', 'Cannot read')])
def test_bad_images_name_the_file(tmp_path, mobilenet_ckpt, content, message):
  path = tmp_path / 'bad.png'
  if content is not None:
    path.write_bytes(content)
  out = _run(['--checkpoint=' + mobilenet_ckpt, '--image=%s' % path] +
             MOBILENET_FLAGS)
  assert out.returncode != 0
  assert message in out.stderr and str(path) in out.stderr


@pytest.mark.slow
def test_image_larger_than_crop_and_bad_crop_flag(tmp_path, mobilenet_ckpt):
  """A larger image is padded to its own size where it exceeds the crop
  (the original pads, it never crops), as if the crop were that size."""
  path = tmp_path / 'big.png'
  pixels = np.random.RandomState(0).randint(0, 255, (70, 40, 3), np.uint8)
  Image.fromarray(pixels).save(path)
  labels = []
  for crop in ('65,65', '70,65'):
    ids = tmp_path / ('ids%s.png' % crop.replace(',', 'x'))
    out = _run(['--checkpoint=' + mobilenet_ckpt, '--image=%s' % path,
                '--eval_crop_size=' + crop, '--output_label_png=%s' % ids]
               + MOBILENET_FLAGS)
    assert out.returncode == 0, out.stderr
    assert 'segmented whole' in out.stdout
    labels.append(np.asarray(Image.open(ids)))
  assert labels[0].shape == (70, 40)
  np.testing.assert_array_equal(labels[0], labels[1])
  out = _run(['--checkpoint=' + mobilenet_ckpt, '--image=%s' % path,
              '--eval_crop_size=65'] + MOBILENET_FLAGS)
  assert out.returncode != 0 and '--eval_crop_size' in out.stderr


def test_wrong_model_flags_report_the_misfit(tmp_path, mobilenet_ckpt):
  path = tmp_path / 'x.png'
  Image.fromarray(np.zeros((33, 33, 3), np.uint8)).save(path)
  out = _run(['--checkpoint=' + mobilenet_ckpt, '--image=%s' % path,
              '--model_variant=mobilenet_v2', '--decoder_output_stride=4'])
  assert out.returncode != 0
  assert 'decoder/feature_projection0/weights' in out.stderr


@pytest.mark.parametrize('mode', ['L', 'RGBA', 'CMYK', 'P', 'I;16'])
def test_read_image_converts_modes(tmp_path, mode):
  path = str(tmp_path / ('img.' + ('tif' if mode == 'CMYK' else 'png')))
  if mode == 'I;16':
    Image.fromarray(np.full((5, 7), 65535, np.uint16)).save(path)
  else:
    Image.new(mode, (7, 5)).save(path)
  image = imageio.read_image(path)
  assert image.shape == (5, 7, 3) and image.dtype == np.uint8
  if mode == 'I;16':
    assert image.max() == 255


@pytest.mark.parametrize('stride_flags,logits_hw', [
    ([], (5, 6)), (['--output_stride=8'], (10, 12))])
def test_predict_flags_win_over_saved_options(zoo_logdir, voc_raw, tmp_path,
                                              stride_flags, logits_hw):
  """An OS16 project checkpoint run with --output_stride=8 runs at OS8."""
  image = os.path.join(voc_raw['image_folder'], '2026_000000.jpg')  # 72x88
  npz = str(tmp_path / 'out.npz')
  out = helpers.run([
      'deeplab-predict', '--checkpoint=' + zoo_logdir, '--image=' + image,
      '--eval_crop_size=73,89', '--output_npz=' + npz] + stride_flags)
  assert out.returncode == 0, out.stderr[-2000:]
  assert np.load(npz)['logits'].shape == (1,) + logits_hw + (21,)


def test_one_image_with_output_dir_and_a_single_output_flag_is_an_error():
  with pytest.raises(ValueError, match='--output_dir and --output_png both '
                     'say where to write'):
    configs.PredictConfig(checkpoint='c', image='photo.jpg',
                          output_dir='out', output_png='x.png').validate()
