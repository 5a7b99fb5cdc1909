"""Tiled inference (`deeplab/tiling.py`) and the paths that use it: the
blend is exact for a model without context, one tile is the whole-image
path, and predict, vis, eval and the SavedModel tile with bounded memory."""
import logging as std_logging
import struct

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from deeplab import common
from deeplab import export
from deeplab import inference
from deeplab import predict
from deeplab import runtime
from deeplab import tiling
from deeplab.evaluation import metrics
from deeplab import configs
from deeplab import imageio
import conftest

NUM_CLASSES = 5
_PROJECTION = np.random.RandomState(0).normal(size=(3, NUM_CLASSES)).astype(
    np.float32)


def pointwise(tiles):
  """A model without context: each pixel's probabilities from its colour
  alone, so tiling can change nothing but rounding."""
  return tf.nn.softmax(tf.einsum('bhwc,cd->bhwd', tiles / 50., _PROJECTION))


def pointwise_labels(image):
  return np.argmax(pointwise(tf.cast(image[None], tf.float32))[0], -1)


def random_image(height, width, seed=0):
  return np.random.RandomState(seed).randint(
      0, 256, (height, width, 3)).astype(np.uint8)


# (image, tile, overlap, batch): more tiles than a batch, overlap above half
# the tile (pixels seen by three tiles), none, one axis fitting, the image
# smaller than a tile.
GEOMETRIES = [((37, 53), (16, 16), (4, 4), 1),
              ((100, 61), (33, 17), (8, 0), 3),
              ((64, 64), (16, 16), (8, 8), 2),
              ((50, 70), (17, 17), (12, 12), 4),
              ((12, 90), (16, 16), (5, 5), 2),
              ((10, 10), (16, 16), (4, 4), 2)]


@pytest.mark.parametrize('align', [None, 4])
@pytest.mark.parametrize('image_hw,tile,overlap,batch', GEOMETRIES)
def test_blend_of_a_model_without_context_is_the_whole_image_result(
    image_hw, tile, overlap, batch, align):
  image = random_image(*image_hw)
  done = []
  labels = tiling.segment(pointwise, image, tile, overlap, NUM_CLASSES,
                          (127.5,), batch, progress=done.append,
                          output_stride=align)
  assert labels.shape == image_hw and labels.dtype == np.uint8
  np.testing.assert_array_equal(labels, pointwise_labels(image))
  # Progress counts every tile once, in order.
  total = tiling.num_tiles(image_hw, tile, overlap)
  assert done[-1] == total and done == sorted(done)


def test_blend_runs_inside_a_tf_function_with_unknown_sizes():
  image_hw, tile, overlap, batch = GEOMETRIES[3]
  image = random_image(*image_hw, seed=1)
  for align in (None, 5):
    fn = tf.function(lambda im, a=align: tiling.segment(
        pointwise, im, tile, overlap, NUM_CLASSES, (127.5,), batch,
        output_stride=a), input_signature=[tf.TensorSpec([None, None, 3],
                                                         tf.uint8)])
    np.testing.assert_array_equal(fn(tf.constant(image)).numpy(),
                                  pointwise_labels(image))


def _trailing(flags):
  """How many of the last `flags` are all true."""
  return len(flags) - len(np.trim_zeros(~flags, 'b'))


def test_the_last_tiles_end_where_the_image_ends():
  """On the output stride's grid, the last row and column of
  tiles are moved back to end within a stride of the image's end, where the
  whole image's padding ends: the tiles then see the image's border as the
  whole image does, not a large band of padding."""
  image = random_image(120, 140, seed=4)
  # Tiles 65 with steps of 48: a full step on, the last ones start at 96
  # and run 41 rows and 21 columns past the image; on a grid of 16 they
  # start at 64 (rows) and 80 (columns), 9 and 5 past it.
  for align, padding in ((None, [41, 21]), (16, [9, 5])):
    seen = []

    def record(tiles):
      seen.extend(tiles.numpy())
      return pointwise(tiles)

    labels = tiling.segment(record, image, (65, 65), (17, 17), NUM_CLASSES,
                            (127.5,), 2, output_stride=align)
    np.testing.assert_array_equal(labels, pointwise_labels(image))
    assert len(seen) == 9
    mean = [np.all(t == 127.5, axis=-1) for t in seen]  # A uint8 never is.
    assert [max(_trailing(m.all(1)) for m in mean),
            max(_trailing(m.all(0)) for m in mean)] == padding


def test_blend_weights_sum_to_one_and_vanish_at_tile_edges():
  for back in (0, 3):
    weights = tiling._normalised_weights(16, 6, 4, 10, back).numpy()  # pylint: disable=protected-access
    total = np.zeros(3 * 10 + 16)
    for k in range(4):
      total[k * 10:k * 10 + 16] += weights[k]
    np.testing.assert_allclose(total, 1.0, rtol=1e-6)
    # Inside the overlap a tile's weight falls towards its edge.
    assert weights[1][0] < weights[1][3] < weights[1][6]
  # The last tile, 3 pixels before its place, weighs as if its edge were
  # 3 pixels further off: in the overlap more than the one before it.
  np.testing.assert_allclose(weights[3][:6], np.minimum(
      1, (np.arange(6) + 3.5) / 6) / (np.minimum(1, (np.arange(6) + 3.5) / 6)
                                     + (6 - np.arange(6) - 0.5) / 6),
                             rtol=1e-6)


def test_many_classes_give_int32_labels():
  def uniformish(tiles):
    return tf.one_hot(tf.cast(tiles[..., 0], tf.int32) + 44, 300)
  image = random_image(30, 30)
  labels = tiling.segment(uniformish, image, (16, 16), (4, 4), 300,
                          (127.5,))
  assert labels.dtype == np.int32
  np.testing.assert_array_equal(labels, image[..., 0].astype(np.int32) + 44)


@pytest.mark.parametrize('fields,message', [
    (dict(tile_size=(64, 64), tile_overlap=64), 'smaller than --tile_size'),
    (dict(tile_size=(64, 64), tile_overlap=-1), 'tile_overlap'),
    (dict(tile_size=(64, 64), tile_overlap=10.5), 'whole number'),
    (dict(tile_size=(0, 64)), '--tile_size must be two positive'),
    (dict(tile_size=(64, 64), tile_batch_size=0), 'tile_batch_size'),
])
def test_tile_options_that_cannot_tile_are_errors(fields, message):
  with pytest.raises(ValueError, match=message):
    common.InferenceOptions(**fields)


def test_fraction_and_pixel_overlaps():
  options = common.InferenceOptions(tile_size=(100, 200), tile_overlap=0.25)
  assert options.tile_overlap_pixels() == (25, 50)
  # Steps of whole output strides: 75 -> 64, 150 -> 144.
  assert options.tile_overlap_pixels(16) == (36, 56)
  assert common.InferenceOptions(
      tile_size=(100, 200), tile_overlap=32).tile_overlap_pixels() == (32, 32)
  assert common.InferenceOptions(
      tile_size=(513, 513), tile_overlap=0).tile_overlap_pixels(16) == (1, 1)


def test_tiles_too_small_for_the_network_are_errors():
  options = OPTIONS
  with pytest.raises(ValueError, match='--tile_size=33,33 is too small for '
                     'output stride 16'):
    tiling.check(options, common.InferenceOptions(tile_size=(33, 33)))
  # MobileNetV3's image pooling needs tiles of its 769 window.
  mnv3 = common.ModelOptions(
      model_variant='mobilenet_v3_small_seg', output_stride=32,
      image_pooling_crop_size=(769, 769), image_pooling_stride=(4, 5),
      aspp_with_squeeze_and_excitation=True, image_se_uses_qsigmoid=True,
      aspp_convs_filters=128, aspp_with_concat_projection=False,
      outputs_to_num_classes={'semantic': 19})
  with pytest.raises(ValueError, match=r'--tile_size=513,513: each tile is a '
                     r'crop.*at least 769x769'):
    tiling.check(mnv3, common.InferenceOptions(tile_size=(513, 513)))


# A real network --------------------------------------------------------------

OPTIONS = conftest.small_options('mobilenet_v2', atrous_rates=None).replace(
    crop_size=None)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
  """Recipe weights of a small MobileNetV2 DeepLabv3+ as a project
  checkpoint."""
  from deeplab import checkpoints  # pylint: disable=g-import-not-at-top
  model = runtime.build_graph(OPTIONS, conftest.inference())
  conftest.assign_recipe_values(model)
  folder = str(tmp_path_factory.mktemp('tiling_ckpt'))
  checkpoints.save_weights(model, folder, OPTIONS)
  return folder


def _model(checkpoint, **fields):
  return runtime.load(OPTIONS, checkpoint,
                      common.InferenceOptions(**fields))[0]


def test_an_image_within_one_tile_runs_whole(checkpoint):
  model = _model(checkpoint, tile_size=(97, 97))
  image = random_image(90, 97)
  whole = inference.segment(model, image[None], 'mobilenet_v2')[
      'predictions'][0].numpy()
  np.testing.assert_array_equal(
      inference.segment_image(model, image, 'mobilenet_v2'), whole)
  # The blend itself, with one tile, is the whole-image path too.
  one_tile = tiling.segment(inference.tile_runner(model), image, (97, 97),
                            (24, 24), NUM_CLASSES, (127.5,))
  padded = inference.segment(model, image[None], 'mobilenet_v2',
                             crop_size=(97, 97))['predictions'][0].numpy()
  np.testing.assert_array_equal(one_tile, padded)


def test_tiled_inference_with_scales_and_flips(checkpoint):
  model = _model(checkpoint, tile_size=(65, 65), tile_overlap=16,
                 eval_scales=(0.75, 1.0), add_flipped_images=True,
                 tile_batch_size=3, tile_image_pooling='tile')
  image = random_image(120, 150, seed=3)
  labels = inference.segment_image(model, image, 'mobilenet_v2')
  assert labels.shape == (120, 150)
  # The same tiles through the blend by hand: equal.
  # The step (65 - 16) is rounded down to a multiple of the output stride.
  by_hand = tiling.segment(
      lambda t: model(t, training=False)['probabilities'], image, (65, 65),
      (17, 17), NUM_CLASSES, (127.5,), 3)
  np.testing.assert_array_equal(labels, by_hand)


def test_zero_size_images_are_errors(checkpoint):
  model = _model(checkpoint, tile_size=(65, 65))
  with pytest.raises(ValueError, match='empty'):
    inference.segment_image(model, np.zeros((0, 70, 3), np.uint8),
                            'mobilenet_v2')


def test_predict_tiles_a_large_image_and_reports_progress(
    checkpoint, tmp_path, capsys):
  path = str(tmp_path / 'big.png')
  Image.fromarray(random_image(300, 420, seed=4)).save(path)
  config = configs.PredictConfig(
      checkpoint=checkpoint, image=path,
      output_label_png=str(tmp_path / 'labels.png'),
      output_png=str(tmp_path / 'colours.png'),
      inference=common.InferenceOptions(tile_size=(65, 65), tile_overlap=16))
  lines = predict.run(config, OPTIONS)
  labels = np.asarray(Image.open(str(tmp_path / 'labels.png')))
  assert labels.shape == (300, 420)
  model = _model(checkpoint, tile_size=(65, 65), tile_overlap=16)
  np.testing.assert_array_equal(
      labels, inference.segment_image(model, random_image(300, 420, seed=4),
                                      'mobilenet_v2'))
  assert lines[0].startswith(path + ': 300x420')
  # Two runs per tile: the first pass gives the whole image's pooling.
  assert '>> %s: 108/108 tile runs (2 per tile)' % path in (
      capsys.readouterr().err)


def _multi_pass_model(checkpoint, **fields):
  return _model(checkpoint, tile_size=(65, 65), tile_overlap=16,
                eval_scales=(0.75, 1.0), add_flipped_images=True,
                tile_batch_size=3, **fields)


def test_given_whole_image_means_the_tile_graph_is_the_whole_image_graph(
    checkpoint):
  """The second pass's graph, given the means of the whole image's own
  features, computes what the whole-image graph does (every scale and
  flip gets its own pass's mean)."""
  model = _multi_pass_model(checkpoint)
  runner = inference.tile_runner(model)
  assert runner.runs_per_tile == 2
  assert runner.image_pooling_pass.shape == (4, 320)
  image = tf.constant(random_image(65, 97, seed=6)[None], tf.float32)
  features = runner._features(image)  # pylint: disable=protected-access
  means = tf.stack([tf.reduce_mean(f[0], axis=[0, 1]) for f in features])
  # The means differ between passes (scales and flips see other pixels).
  assert np.abs(means[0] - means[3]).max() > 1e-3
  whole = model(image)['probabilities']
  error = np.abs(runner(image, means) - whole).max()
  assert error < 1e-5
  # Another pass order would not match.
  assert np.abs(runner(image, means[::-1]) - whole).max() > max(30 * error,
                                                                1e-5)


def test_first_pass_counts_every_feature_of_the_image_once(checkpoint):
  model = _multi_pass_model(checkpoint)
  runner = inference.tile_runner(model)
  totals = []

  def pool(tiles, rows, columns):
    sums, counts = runner.image_pooling_pass.sum_features(tiles, rows,
                                                          columns)
    totals.append(counts.numpy())
    return sums, counts

  image = random_image(120, 150, seed=3)
  labels = tiling.segment(
      runner, image, (65, 65), (17, 17), NUM_CLASSES, (127.5,), 3,
      image_pooling_pass=tiling.ImagePoolingPass(
          pool, runner.image_pooling_pass.shape),
      output_stride=16)
  np.testing.assert_array_equal(
      labels, inference.segment_image(model, image, 'mobilenet_v2'))
  totals = np.sum(totals, axis=0)
  # Scale 1, unflipped and flipped: the whole image's 8x10 feature grid
  # (stride 16). At 0.75 (the image 90x112, a 6x7 grid) the tiles' grids
  # are not the image's, so the count may be off by a little.
  np.testing.assert_array_equal(totals[2:], [80, 80])
  np.testing.assert_allclose(totals[:2], 42, rtol=0.1)


def test_windowed_image_pooling_stays_in_each_tile(checkpoint):
  """A fixed pooling window (MobileNetV3's image_pooling_crop_size) is not
  the whole image's mean: one pass, each tile pooling over itself; and
  `tile` pooling is one pass too."""
  model = runtime.load(OPTIONS.replace(image_pooling_crop_size=(33, 33)),
                       checkpoint, common.InferenceOptions(
                           tile_size=(65, 65)))[0]
  assert inference.tile_runner(model).runs_per_tile == 1
  model = _model(checkpoint, tile_size=(65, 65), tile_image_pooling='tile')
  assert inference.tile_runner(model).runs_per_tile == 1


@pytest.mark.slow
def test_saved_model_serving_tiled_equals_in_process_tiles(checkpoint,
                                                           tmp_path):
  tiles = common.InferenceOptions(tile_size=(65, 65), tile_overlap=16,
                                  tile_batch_size=2,
                                  dilated_depthwise='space_to_batch')
  module = export.DeepLabServing(OPTIONS, checkpoint, crop_size=(65, 65),
                                 inference_options=tiles)
  export_dir = export.export_saved_model(module, str(tmp_path / 'export'))
  served = tf.saved_model.load(export_dir).signatures[
      export.TILED_SIGNATURE]
  model = runtime.load(OPTIONS, checkpoint, tiles)[0]
  for hw in [(150, 200), (40, 50)]:  # In tiles; within one tile.
    image = random_image(*hw, seed=5)
    labels = served(**{export.INPUT_NAME: tf.constant(image[None])})[
        export.OUTPUT_NAME].numpy()
    assert labels.shape == (1,) + hw and labels.dtype == np.int32
    np.testing.assert_array_equal(labels[0], inference.segment_image(
        model, image, 'mobilenet_v2', crop_size=(65, 65)))
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='one image at a time'):
    served(**{export.INPUT_NAME: tf.zeros([2, 70, 70, 3], tf.uint8)})


@pytest.mark.slow
def test_eval_and_vis_tile_and_match_whole_image_when_one_tile_fits(
    voc_records, checkpoint, tmp_path):
  from deeplab import visualize  # pylint: disable=g-import-not-at-top
  from deeplab.evaluation import evaluator  # pylint: disable=g-import-not-at-top
  options = OPTIONS.replace(outputs_to_num_classes={'semantic': 21})
  from deeplab import checkpoints  # pylint: disable=g-import-not-at-top
  model = runtime.build_graph(options, conftest.inference())
  conftest.assign_recipe_values(model)
  folder = str(tmp_path / 'ckpt21')
  checkpoints.save_weights(model, folder, options)
  results = {}
  for name, tile in [('whole', None), ('one_tile', (97, 97)),
                     ('tiles', (49, 49))]:
    config = configs.EvalConfig(
        checkpoint_dir=folder, eval_logdir=str(tmp_path / name),
        dataset='pascal_voc_seg', dataset_dir=voc_records,
        eval_crop_size=(97, 97), max_number_of_evaluations=1,
        inference=common.InferenceOptions(tile_size=tile))
    results[name] = evaluator.run(config, options)[0]
  assert results['one_tile']['confusion_matrix'] == results['whole'][
      'confusion_matrix']
  assert results['tiles']['num_images'] == results['whole']['num_images']
  vis = configs.VisConfig(
      checkpoint_dir=folder, vis_logdir=str(tmp_path / 'vis'),
      dataset='pascal_voc_seg', dataset_dir=voc_records,
      vis_crop_size=(97, 97), max_images=2, max_number_of_iterations=1,
      inference=common.InferenceOptions(tile_size=(49, 49)))
  assert visualize.visualize_split(vis, options) == 2


# Large and unusual image files ----------------------------------------------


def test_images_above_the_decompression_bomb_limit_need_the_flag(
    tmp_path, monkeypatch):
  path = str(tmp_path / 'large.png')
  Image.fromarray(random_image(40, 50)).save(path)
  monkeypatch.setattr(imageio, 'MAX_IMAGE_PIXELS', 1000)
  with pytest.raises(ValueError, match=r'large.png is 40x50 .*pass '
                     r'--allow_large_images'):
    imageio.read_image(path)
  assert imageio.read_image(path, allow_large=True).shape == (40, 50, 3)


def _tiff_rgb16(path, array):
  """A 16-bit RGB TIFF (Pillow cannot write one)."""
  height, width, _ = array.shape
  data = array.astype('<u2').tobytes()
  bits_at = 8 + len(data)
  entries = [(256, 3, 1, width), (257, 3, 1, height), (258, 3, 3, bits_at),
             (259, 3, 1, 1), (262, 3, 1, 2), (273, 4, 1, 8), (277, 3, 1, 3),
             (278, 3, 1, height), (279, 4, 1, len(data)), (284, 3, 1, 1)]
  ifd = struct.pack('<H', len(entries))
  for tag, kind, count, value in entries:
    if kind == 3 and count == 1:
      ifd += struct.pack('<HHIHH', tag, kind, count, value, 0)
    else:
      ifd += struct.pack('<HHII', tag, kind, count, value)
  with open(path, 'wb') as f:
    f.write(b'II*\x00' + struct.pack('<I', bits_at + 6) + data +
            struct.pack('<3H', 16, 16, 16) + ifd + struct.pack('<I', 0))


def test_16_bit_and_multi_page_images_say_how_they_are_read(tmp_path,
                                                            caplog):
  caplog.set_level(std_logging.WARNING)
  rgb16 = str(tmp_path / 'rgb16.tif')
  values = (np.arange(4 * 5 * 3).reshape(4, 5, 3) * 1000).astype(np.uint16)
  _tiff_rgb16(rgb16, values)
  image = imageio.read_image(rgb16)
  np.testing.assert_array_equal(image, values >> 8)
  assert 'rgb16.tif is a 16-bit image: read at 8 bits as value / 256' in (
      caplog.text)
  gray16 = str(tmp_path / 'gray16.png')
  Image.fromarray(np.array([[0, 257 * 7], [65535, 257 * 100]],
                           np.uint16)).save(gray16)
  np.testing.assert_array_equal(imageio.read_image(gray16)[..., 0],
                                [[0, 7], [255, 100]])
  assert 'gray16.png is a 16-bit image: read at 8 bits as value / 257' in (
      caplog.text)
  pages = str(tmp_path / 'pages.tif')
  first, second = random_image(6, 7, 1), random_image(6, 7, 2)
  Image.fromarray(first).save(pages, save_all=True,
                              append_images=[Image.fromarray(second)])
  np.testing.assert_array_equal(imageio.read_image(pages), first)
  assert 'pages.tif has 2 pages; reading the first' in caplog.text


# Trained models of each backbone family -------------------------------------


def _near_a_boundary(labels, distance):
  """True where a pixel within `distance` (rows and columns) of it has
  another label: where a change of context may move a boundary."""
  near = np.zeros(labels.shape, bool)
  for label in np.unique(labels):
    near |= metrics._dilate(labels == label, distance) & (labels != label)  # pylint: disable=protected-access
  return near


def test_near_a_boundary():
  labels = np.zeros((6, 7), np.int32)
  labels[:, 4:] = 1
  np.testing.assert_array_equal(_near_a_boundary(labels, 1)[0],
                                [0, 0, 0, 1, 1, 0, 0])
  np.testing.assert_array_equal(_near_a_boundary(labels, 2)[5],
                                [0, 0, 1, 1, 1, 1, 0])
  labels[5, 0] = 2  # A corner: its window reaches across both axes.
  np.testing.assert_array_equal(_near_a_boundary(labels, 1)[3:, :2],
                                [[0, 0], [1, 1], [1, 1]])
  assert not _near_a_boundary(np.ones((3, 3)), 1).any()


@pytest.mark.slow
@pytest.mark.parametrize('variant', ['mobilenet_v2', 'resnet_v1_18',
                                     'xception_41'])
def test_tiles_of_a_trained_model_agree_with_the_whole_image(
    variant, tmp_path_factory):
  """Each family trained on 97x97 crops of synthetic scenes (400 steps,
  Xception-41 800), then run on 576x768 mosaics of such scenes whole (padded
  to 577x769) and in tiles overlapping by half, with the whole image's image
  pooling (the default). More than 4 px from the whole image's boundaries
  the labels must agree on >= 99.9% of the pixels in 385x385 tiles (2x3 an
  image) and in 257x257 tiles (3x5; Xception-41: 99%); over all pixels on
  >= 99.5% and 99% (Xception-41: 99% and 97.5%).

  Why two figures: what a tile cuts is context, and a pixel near a boundary
  moves with any change of context; how many such pixels change is a
  property of the trained model, which training does not reproduce bit for
  bit. Away from the boundaries the figure is the tiling's own. Measured on
  the AMD EPYC (Zen 4) host, 2026-12-06, one model each, 385x385 / 257x257,
  all pixels then more than 4 px from a boundary: MobileNetV2 99.90 / 99.75%
  then 100.00 / 100.00%; ResNet-18 99.89 / 99.73% then 100.00 / 100.00%;
  Xception-41 after 800 steps (pixel accuracy 0.946 and 0.957) 99.68 / 98.74%
  then 99.99 / 99.68%, and 99.65 / 98.94% then 99.98 / 99.87%; after 400
  steps (accuracy 0.841) 99.89 / 99.27% then 99.99 / 99.74%. All-pixel
  figures of earlier runs: MobileNetV2 99.86-99.88 / 99.74-99.79%, ResNet-18
  99.87-99.88 / 99.68-99.74%, Xception-41 (800 steps) 99.71-99.79 /
  99.12-99.40%, and one at 99.40 / 98.20% (accuracy 0.938) that failed the
  earlier all-pixel-only bounds (99.5 / 98.5%) in CI. The top-2 margin does
  not single out the changed pixels (at a margin >= 0.2 the first
  800-step Xception-41 still agreed on 99.88% / 99.06%); the distance to a
  boundary does. Before the last row and column of tiles were moved back to
  end at the image's end, they ran into up to a tile of mean-pixel padding,
  and 400-step Xception-41 models agreed on 98.77% and 99.38% in 257x257
  tiles of 288x512 mosaics (99.44% and 99.64% moved back).
  """
  options, logdir = conftest.train_on_scenes(
      tmp_path_factory.mktemp('family_' + variant), variant,
      {'xception_41': 800}.get(variant, 400))
  whole_model, _ = runtime.load(options, logdir, common.InferenceOptions())
  rng = np.random.RandomState(5)
  mosaics = [conftest.mosaic(rng, 6, 6) for _ in range(4)]
  wholes = [inference.segment(whole_model, image[None], variant,
                              crop_size=(577, 769))['predictions'][0].numpy()
            for image, _ in mosaics]
  # Labels more than 4 px from the whole image's boundaries: where a tile's
  # cut context should change nothing.
  nears = [_near_a_boundary(whole, 4) for whole in wholes]
  away_share = 1 - np.mean(nears)
  agreement = {}
  for tile, overlap, pooling in [(385, 0.5, 'image'), (257, 0.5, 'image'),
                                 (257, 0.5, 'tile')]:
    model, _ = runtime.load(options, logdir, common.InferenceOptions(
        tile_size=(tile, tile), tile_overlap=overlap,
        tile_image_pooling=pooling))
    runner = inference.tile_runner(model)
    agree, away, tiled_right, whole_right = [], [], [], []
    for (image, truth), whole, near in zip(mosaics, wholes, nears):
      tiled = inference.segment_image(model, image, variant, runner=runner)
      valid = truth != 255
      agree.append((tiled == whole).mean())
      away.append((tiled == whole)[~near].mean())
      tiled_right.append((tiled == truth)[valid].mean())
      whole_right.append((whole == truth)[valid].mean())
    agreement[tile, pooling] = np.mean(agree), np.mean(away)
    print('%s %dx%d tiles, overlap %s, %s pooling: agreement %.4f, more than '
          '4 px from a boundary %.4f (%.2f of the pixels), accuracy tiled '
          '%.4f whole %.4f' % (variant, tile, tile, overlap, pooling,
                               np.mean(agree), np.mean(away), away_share,
                               np.mean(tiled_right), np.mean(whole_right)))
    if pooling == 'image':
      # Tiles are not the worse of the two.
      assert np.mean(tiled_right) >= np.mean(whole_right) - 0.01
  # Not a model whose labels are all boundary (or one class everywhere).
  assert 0.5 <= away_share < 1
  xception = variant == 'xception_41'
  assert agreement[385, 'image'][0] >= (0.99 if xception else 0.995)
  assert agreement[385, 'image'][1] >= 0.999
  assert agreement[257, 'image'][0] >= (0.975 if xception else 0.99)
  assert agreement[257, 'image'][1] >= (0.99 if xception else 0.999)
