"""How the network runs at inference (deeplab/runtime.py): the evaluation
graph, folding, precision, the argmax shortcut, loading checkpoints."""
import numpy as np
import pytest

import conftest
import reference
from deeplab import common
from deeplab import model as model_lib
from deeplab import runtime
from deeplab.core import layers
from deeplab.core import ops


def test_passes_are_each_scale_then_its_flip():
  inference_options = common.InferenceOptions(eval_scales=(0.5, 1.0),
                                              add_flipped_images=True)
  assert runtime.passes(inference_options) == [
      (0.5, False), (0.5, True), (1.0, False), (1.0, True)]
  assert runtime.passes(common.InferenceOptions()) == [(1.0, False)]


def test_bfloat16_graph_keeps_the_logits_and_what_follows_in_float32():
  options = conftest.small_options('mobilenet_v2', 33, 16)
  plain = conftest.assign_recipe_values(runtime.build_graph(options))
  low = conftest.fold(plain, inference_precision='bfloat16')
  dtypes = {layer.name: layer.compute_dtype for layer in low.layers}
  assert dtypes['logits.semantic'] == 'float32'
  assert dtypes['predictions'] == 'float32'
  assert dtypes['aspp0'] == 'bfloat16'
  assert low.inference_options.inference_precision == 'bfloat16'
  out = low(conftest.random_images(1, 33, 33))
  assert out['logits'].dtype == 'float32'
  with pytest.raises(ValueError, match='--fold_batch_norm'):
    common.InferenceOptions(inference_precision='bfloat16',
                            fold_batch_norm=False)


def test_image_pooling_graphs_exist_only_for_a_global_mean():
  options = conftest.small_options('mobilenet_v2', 33, 16)
  model = runtime.build_graph(options.replace(crop_size=None),
                              conftest.inference(eval_scales=(0.75, 1.0)))
  features, pooled = runtime.image_pooling_graphs(model)
  assert len(features.outputs) == 2  # One feature map a pass.
  assert tuple(pooled.inputs[1].shape[1:]) == (2, 320)  # Backbone channels.
  # The given-pooling graph shares every weight of the model.
  assert {id(v) for v in pooled.weights} <= {id(v) for v in model.weights}
  windowed = runtime.build_graph(options.replace(
      crop_size=None, image_pooling_crop_size=(33, 33)))
  assert runtime.image_pooling_graphs(windowed) is None


def test_inference_model_with_scales_and_flips_matches_numpy():
  options = conftest.small_options('mobilenet_v2', 33, 16)
  single = conftest.assign_recipe_values(model_lib.build_model(options), 4)
  multi = runtime.build_graph(options, conftest.inference(
      eval_scales=(0.75, 1.0), add_flipped_images=True))
  model_lib.transfer_weights(single, multi)
  images = conftest.random_images(1, 33, 33)
  out = {k: v.numpy() for k, v in multi(images).items()}

  def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)

  probs = []
  for scale in (0.75, 1.0):
    m = model_lib.build_model(options, image_pyramid=[scale])
    model_lib.transfer_weights(single, m)
    for flip in (False, True):
      x = images[:, :, ::-1] if flip else images
      logits = m(np.ascontiguousarray(x)).numpy()
      if flip:
        logits = logits[:, :, ::-1]
      probs.append(softmax(reference.upsample_align_corners(logits, (33, 33))))
  mean = np.mean(probs, axis=0)
  np.testing.assert_allclose(out['probabilities'][0], mean, atol=1e-5)
  assert (out['predictions'][0] == mean.argmax(-1)).mean() > 0.999
  np.testing.assert_allclose(out['logits'], single(images).numpy(), atol=1e-5)


def test_argmax_shortcut_labels_and_rebuild_without_it():
  """Single-pass predictions go through `ops.upsampled_argmax` (the same
  labels as the argmax of the upsampled logits); `without_argmax_shortcut`
  rebuilds folded and unfolded models without it, same weights and labels."""
  options = conftest.small_options('mobilenet_v2', 65, 16)
  model = conftest.assign_recipe_values(runtime.build_graph(options))
  images = conftest.random_images(2, 65, 65)
  out = model(images)
  np.testing.assert_array_equal(out['predictions'], ops.channel_argmax(
      ops.resize_bilinear(out['logits'], (65, 65))))
  for source in (model, conftest.fold(model)):
    assert isinstance(source.get_layer('predictions'),
                      layers.UpsampledArgmax)
    rebuilt = runtime.without_argmax_shortcut(source)
    assert isinstance(rebuilt.get_layer('predictions'), layers.ChannelArgmax)
    assert rebuilt.folded == source.folded
    np.testing.assert_array_equal(rebuilt(images)['predictions'],
                                  source(images)['predictions'])
    np.testing.assert_allclose(rebuilt(images)['logits'],
                               source(images)['logits'], atol=1e-5)
    assert runtime.without_argmax_shortcut(rebuilt) is rebuilt


def test_runtime_load(zoo_checkpoint):
  options = common.ModelOptions(model_variant='mobilenet_v2', output_stride=16,
                                crop_size=(65, 65))
  cache = {}
  runner, report = runtime.load(options, zoo_checkpoint, cache=cache)
  plain = cache['source']
  assert runner is not plain and runner.folded and report.restored
  same, _ = runtime.load(options, zoo_checkpoint, conftest.inference(),
                         cache=cache)
  assert same is plain
  conftest.assert_same_outputs(plain, runner, conftest.random_images(1, 65, 65))


def test_refilling_a_folded_target_follows_new_weights():
  # Continuous evaluation refolds each checkpoint into the same twin.
  options = conftest.small_options('mobilenet_v2', crop=33)
  plain, folded = conftest.folded_pair(options)
  conftest.assign_recipe_values(plain, seed=1)
  again = runtime.fold(plain, target=folded)
  assert again is folded
  conftest.assert_same_outputs(plain, folded, conftest.random_images(1, 33, 33))
