"""bfloat16 inference (--inference_precision=bfloat16) proven against float32.

The bf16 graph is the folded one with weights cast once and activations in
bf16 up to the logits; logits, upsampling and argmax stay float32.
"""
import numpy as np
import pytest
import tensorflow as tf

import conftest
import helpers
import reference
from deeplab import common
from deeplab import export
from deeplab import inference
from deeplab import runtime
from deeplab.core import folding
from deeplab.core import ops
from deeplab.evaluation import metrics

MARGIN = 0.05


def agreement(vector_id):
  """(share of agreeing labels where the fp32 top-2 margin >= MARGIN, share
  over all pixels, pixels counted) for bf16 vs fp32 on a reference vector."""
  arrays, options, plain = reference.vector_model(vector_id,
                                                  runtime.build_graph)
  fp32 = conftest.fold(plain, dilated_depthwise='space_to_batch')
  bf16 = conftest.fold(plain, dilated_depthwise='space_to_batch',
                       inference_precision='bfloat16')
  image = arrays['image']
  h, w = image.shape[:2]
  padded = inference.pad_to_crop(image.astype(np.float32), options.crop_size,
                                 options.model_variant)[None]
  want = fp32(padded)
  got = bf16(padded)
  assert got['logits'].dtype == tf.float32  # Logits stay float32.
  up = ops.resize_bilinear(want['logits'], options.crop_size)
  top2 = tf.math.top_k(up, 2).values.numpy()[0, :h, :w]
  confident = (top2[..., 0] - top2[..., 1]) >= MARGIN
  same = (want['predictions'].numpy() == got['predictions'].numpy())[0, :h, :w]
  return same[confident].mean(), same.mean(), int(confident.sum())


@pytest.mark.parametrize('vector_id', ['P2', 'P3', 'P4'])
def test_bf16_labels_equal_fp32_where_fp32_is_confident(vector_id):
  """P2 Xception-65, P3 MobileNetV2, P4 ResNet-101-beta (129x129)."""
  confident, overall, count = agreement(vector_id)
  print('%s: bf16 = fp32 on %.4f of %d pixels with margin >= %.2f, %.4f of '
        'all' % (vector_id, confident, count, MARGIN, overall))
  assert count > 0
  assert confident >= 0.995
  assert overall >= 0.9


def test_bf16_graph_computes_in_bf16_up_to_the_logits():
  options = conftest.small_options('xception_41')
  plain = conftest.assign_recipe_values(runtime.build_graph(options))
  bf16 = conftest.fold(plain, inference_precision='bfloat16')
  dtypes = {layer.name: layer.compute_dtype for layer in bf16.layers
            if isinstance(layer, folding.FOLDED_TYPES)}
  assert dtypes.pop('logits.semantic') == 'float32'
  assert set(dtypes.values()) == {'bfloat16'}
  assert bf16.inference_options.inference_precision == 'bfloat16'
  with pytest.raises(ValueError, match='--fold_batch_norm'):
    runtime.build_graph(options, conftest.inference(
        inference_precision='bfloat16'))


_SERVE = '''
import sys, numpy as np, tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures['serving_default']
image = np.load(sys.argv[2])
np.save(sys.argv[3], serve(ImageTensor=tf.constant(image))[
    'SemanticPredictions'].numpy())
'''


@pytest.mark.slow
def test_exported_bf16_saved_model_equals_in_process_bf16(zoo_checkpoint,
                                                          tmp_path):
  module = export.DeepLabServing(conftest.ZOO_OPTIONS, zoo_checkpoint,
                                 crop_size=(65, 65),
                                 inference_options=export.ExportConfig(
                                 ).inference.replace(
                                     inference_precision='bfloat16'))
  export_dir = str(tmp_path / 'export')
  export.export_saved_model(module, export_dir)
  image = np.random.RandomState(4).randint(0, 256, (1, 57, 70, 3)).astype(
      np.uint8)
  np.save(tmp_path / 'image.npy', image)
  out = helpers.run(['-c', _SERVE, export_dir, tmp_path / 'image.npy',
                     tmp_path / 'labels.npy'])
  assert out.returncode == 0, out.stderr[-2000:]
  np.testing.assert_array_equal(
      np.load(tmp_path / 'labels.npy'),
      module.serve(image)['SemanticPredictions'].numpy())


@pytest.mark.slow
def test_bf16_moves_the_miou_of_a_trained_model_by_at_most_0_2_point(
    tmp_path):
  """MobileNetV2 trained on synthetic scenes (400 steps), evaluated whole on
  four 576x768 mosaics of scenes it has not seen, in float32 and in
  bfloat16: the mIoU moves by at most 0.2 point (issue 31), and the labels
  are equal on >= 99.5% of the pixels whose float32 top-2 margin is >= 0.05.

  Measured on the AMD EPYC (Zen 4, AVX512-BF16) host, 2026-12-06, on these
  mosaics' kind (other draws, the tiling test's models): MobileNetV2 mIoU
  0.8965 -> 0.8973 (+0.08 point), labels equal on 99.96% of all pixels;
  ResNet-18 0.9533 -> 0.9534, 99.97%. Xception-41 after 800 steps, less
  well trained (0.795 and 0.738), moved by -0.48 and -0.31 point (labels
  equal on 99.86% and 99.90%): not asserted here, see the README.
  """
  options, logdir = conftest.train_on_scenes(tmp_path, 'mobilenet_v2', 400)
  rng = np.random.RandomState(6)
  mosaics = [conftest.mosaic(rng, 6, 6) for _ in range(4)]
  results = {}
  for precision in ('float32', 'bfloat16'):
    model, _ = runtime.load(options, logdir, common.InferenceOptions(
        inference_precision=precision))
    matrix = metrics.ConfusionMatrix(options.num_classes)
    labels, margins = [], []
    for image, truth in mosaics:
      out = inference.segment(model, image[None], options.model_variant,
                              crop_size=(577, 769), probabilities=True)
      labels.append(out['predictions'][0].numpy())
      top2 = tf.math.top_k(out['probabilities'][0], 2).values.numpy()
      margins.append(top2[..., 0] - top2[..., 1])
      matrix.update(truth, labels[-1])
    results[precision] = (metrics.mean_iou(matrix.matrix), np.stack(labels),
                          np.stack(margins))
  (f32_miou, f32, margin), (b16_miou, b16, _) = (results['float32'],
                                                 results['bfloat16'])
  confident = margin >= MARGIN
  print('mIoU float32 %.4f bfloat16 %.4f; labels equal on %.4f of all pixels, '
        '%.4f where the margin is >= %.2f (%.3f of them)' % (
            f32_miou, b16_miou, (f32 == b16).mean(),
            (f32 == b16)[confident].mean(), MARGIN, confident.mean()))
  assert f32_miou >= 0.8  # A trained model, not a near-constant one.
  assert abs(b16_miou - f32_miou) <= 0.002
  assert (f32 == b16)[confident].mean() >= 0.995
