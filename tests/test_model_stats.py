"""Tests of deeplab.model_stats against the paper's Multiply-Adds."""
import json

import pytest

import helpers
from deeplab import common
from deeplab import model_stats

MS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)
RATES = {8: (12, 24, 36), 16: (6, 12, 18), 32: (3, 6, 9)}

# (output stride, decoder, multi-scale, flip, separable, paper Mul-Adds B).
XCEPTION_65_TABLE_5 = [
    (16, 0, 0, 0, 0, 68.00), (16, 0, 1, 0, 0, 601.74),
    (16, 0, 1, 1, 0, 1203.34), (8, 0, 0, 0, 0, 240.85),
    (8, 0, 1, 0, 0, 2149.91), (8, 0, 1, 1, 0, 4299.68),
    (16, 1, 0, 0, 0, 89.76), (16, 1, 1, 0, 0, 790.12),
    (16, 1, 1, 1, 0, 1580.10), (8, 1, 0, 0, 0, 262.59),
    (8, 1, 1, 0, 0, 2338.15), (8, 1, 1, 1, 0, 4676.16),
    (16, 1, 0, 0, 1, 54.17), (16, 1, 1, 1, 1, 928.81),
    (8, 1, 0, 0, 1, 177.10), (8, 1, 1, 1, 1, 3055.35),
]
RESNET_101_TABLE_3 = [
    (16, 0, 0, 0, 0, 81.02), (8, 0, 0, 0, 0, 276.18),
    (8, 0, 1, 0, 0, 2435.37), (8, 0, 1, 1, 0, 4870.59),
    (16, 1, 0, 0, 0, 101.28), (16, 1, 1, 0, 0, 898.69),
    (16, 1, 1, 1, 0, 1797.23), (8, 1, 0, 0, 0, 297.92),
    (8, 1, 1, 0, 0, 2623.61), (8, 1, 1, 1, 0, 5247.07),
    (32, 0, 0, 0, 0, 52.43), (32, 1, 0, 0, 0, 74.20),
]


def _stats(variant, row, multi_grid=None):
  output_stride, decoder, multi_scale, flip, separable, _ = row
  options = common.ModelOptions(
      model_variant=variant, crop_size=(513, 513),
      output_stride=output_stride, atrous_rates=RATES[output_stride],
      decoder_output_stride=(4,) if decoder else None,
      aspp_with_separable_conv=bool(separable),
      decoder_use_separable_conv=bool(separable), multi_grid=multi_grid)
  return model_stats.model_statistics(options, MS if multi_scale else (1.0,),
                                      bool(flip))


@pytest.mark.parametrize('row', XCEPTION_65_TABLE_5)
def test_xception_65_table_5(row):
  got = _stats('xception_65', row)['multiply_adds'] / 1e9
  assert abs(got / row[-1] - 1) < 0.01, (row, got)


@pytest.mark.parametrize('row', RESNET_101_TABLE_3)
def test_resnet_101_table_3(row):
  got = _stats('resnet_v1_101_beta', row, (1, 2, 4))['multiply_adds'] / 1e9
  # One printed figure, eval OS16 + decoder single scale (101.28B), is not
  # consistent with its neighbours: the decoder adds 21.74B at OS8 and 21.77B
  # at OS32 in the paper's own rows, and its multi-scale row (898.69B) is
  # matched to 0.05% by this very model. We count 102.59B (+1.3%); every
  # other row is within 1%. The 1.5% allowance is for that row only.
  tolerance = 0.015 if row == (16, 1, 0, 0, 0, 101.28) else 0.01
  assert abs(got / row[-1] - 1) < tolerance, (row, got)


def test_atrous_grid_count_is_what_separates_the_two_conventions():
  stats = _stats('xception_65', (16, 0, 0, 0, 0, 68.00))
  assert stats['multiply_adds'] > stats['multiply_adds_dense']
  assert model_stats._space_to_batch_outputs(33, 3, 6) == 36
  assert model_stats._space_to_batch_outputs(33, 3, 1) == 33
  assert model_stats._space_to_batch_outputs(65, 3, 36) == 72


def test_cli_prints_json_with_counts_equal_to_the_manifest():
  manifest_params = (41055413, 41258213)  # xception_65.json
  out = helpers.run(
      ['-m', 'deeplab.model_stats', '--model_variant=xception_65',
       '--output_stride=16', '--atrous_rates=6', '--atrous_rates=12',
       '--atrous_rates=18', '--decoder_output_stride=4',
       '--crop_size=513,513', '--json'],
      check=True, env=helpers.environment(TF_CPP_MIN_LOG_LEVEL=3))
  stats = json.loads(out.stdout.strip().splitlines()[-1])
  assert (stats['trainable_params'], stats['params']) == manifest_params
  assert abs(stats['multiply_adds'] / 54.17e9 - 1) < 0.01


def test_cli_rejects_a_bad_crop_size():
  out = helpers.run(['-m', 'deeplab.model_stats', '--crop_size=513'])
  assert out.returncode != 0 and '--crop_size' in out.stderr


# The original code's count for MobileNetV3 at output stride 32 on 1025x2049
# (issue 28; model_zoo.md prints about twice these, in FLOPs).
@pytest.mark.parametrize('name, published', [
    ('mobilenetv3_large_cityscapes_trainfine', 7.83),
    ('mobilenetv3_small_cityscapes_trainfine', 2.15)])
def test_mobilenet_v3_counts_are_the_originals(name, published):
  from deeplab import zoo  # pylint: disable=g-import-not-at-top
  entry = zoo.get(name)
  options = entry.model_options(32, crop_size=(1025, 2049))
  stats = model_stats.model_statistics(options)
  assert round(stats['multiply_adds'] / 1e9, 2) == published, stats
  # Without the operations between convolutions, the figure is off (the
  # count used to stop at the convolutions).
  assert round(stats['multiply_adds_convolutions'] / 1e9, 2) < published - 0.1


def _profiled_other_float_ops(model):
  """The float operations TensorFlow's profiler registry gives the traced
  graph of `model`, without its convolutions, BatchNorm (fused in the
  original's graph) and the argmax layer (ours is top_k), by op type."""
  import re  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow.python.framework import ops as tf_ops  # pylint: disable=g-import-not-at-top,g-direct-tensorflow-import
  shape = [1] + list(model.model_options.crop_size) + [3]
  graph = tf.function(lambda x: model(x, training=False)).get_concrete_function(
      tf.TensorSpec(shape, tf.float32)).graph
  totals = {}
  for node in graph.as_graph_def().node:
    scope = re.sub(r'_\d+$', '', node.name.split('/')[1]) if (
        node.name.count('/') > 1) else ''
    if (node.op in ('Conv2D', 'DepthwiseConv2dNative') or
        scope.endswith('BatchNorm') or scope == 'predictions'):
      continue
    try:
      flops = tf_ops.get_stats_for_node_def(graph, node, 'flops').value
    except ValueError:  # Not in the registry.
      flops = None
    if flops:
      totals[node.op] = totals.get(node.op, 0) + flops
  return totals


@pytest.mark.parametrize('variant, changes, scales, flip', [
    ('xception_41', {}, (1.0,), False),
    ('resnet_v1_50_beta', dict(decoder_output_stride=None), (0.75, 1.0), True),
    ('mobilenet_v2', dict(atrous_rates=None), (1.0,), False),
    ('mobilenet_edgetpu', dict(atrous_rates=None, decoder_output_stride=None),
     (1.0,), False),
    ('zoo:mobilenetv3_small_cityscapes_trainfine', {}, (1.0,), False),
    ('zoo:xception71_dpc_cityscapes_trainfine', {}, (1.0,), False),
])
def test_other_float_ops_are_what_the_profiler_counts(variant, changes,
                                                      scales, flip):
  """The count of the ops between convolutions equals, in total, what the
  profiler's own registry counts for the ops our layers run, on graphs that
  between them use every kind of layer the architectures have (activations,
  gates, pooling, sums, biases, normalisation, softmax, the mean over
  passes)."""
  from deeplab import runtime  # pylint: disable=g-import-not-at-top
  from deeplab import zoo  # pylint: disable=g-import-not-at-top
  if variant.startswith('zoo:'):
    entry = zoo.get(variant[4:])
    crop = 769 if 'mobilenetv3' in variant else 65
    options = entry.model_options(entry.rows[0].output_stride,
                                  crop_size=(crop, crop))
  else:
    options = common.ModelOptions(**dict(dict(
        model_variant=variant, crop_size=(65, 65), output_stride=16,
        atrous_rates=(1, 2, 3), decoder_output_stride=(4,),
        outputs_to_num_classes={common.OUTPUT_TYPE: 5}), **changes))
  model = runtime.build_graph(options, common.InferenceOptions(
      eval_scales=scales, add_flipped_images=flip, fold_batch_norm=False))
  ours = model_stats.count_other_float_ops(model)
  argmax = ours.get('predictions', 0)
  profiled = _profiled_other_float_ops(model)
  assert sum(ours.values()) - argmax == sum(profiled.values()), (
      sorted(ours.items()), profiled)
  assert sum(profiled.values()) > 0
