"""Tests of the DeepLab model: names, numbers of the original, strides."""
import numpy as np
import pytest
import tensorflow as tf

from deeplab import common
from deeplab import model as model_lib
from deeplab.core import feature_extractor
import conftest
import reference


@pytest.mark.parametrize('manifest_name', reference.MANIFESTS)
def test_weights_equal_the_original_manifest(manifest_name):
  manifest = reference.load_manifest(manifest_name)
  # The variable set does not depend on crop or rates: build small.
  options = reference.options_from_build_kwargs(
      manifest['variant'], manifest['build_kwargs'], crop_size=(65, 65),
      image_pooling_crop_size=None)
  model = model_lib.build_model(options)
  got = {k: tuple(v.shape)
         for k, v in model_lib.tf1_variable_map(model).items()}
  want = {v['name']: tuple(v['shape']) for v in manifest['variables']}
  assert sorted(set(want) - set(got)) == []
  assert sorted(set(got) - set(want)) == []
  assert {k: s for k, s in got.items() if want[k] != s} == {}
  trainable = {v['name'] for v in manifest['variables'] if v['trainable']}
  mapping = model_lib.tf1_variable_map(model)
  assert {k for k, v in mapping.items() if v.trainable} == trainable
  assert sum(int(np.prod(v.shape)) for v in model.trainable_weights) == (
      manifest['num_trainable_params'])
  assert sum(int(np.prod(v.shape)) for v in model.weights) == (
      manifest['num_all_params'])


def _run_vector(vector_id):
  arrays, options, model = reference.vector_model(vector_id,
                                                  model_lib.build_model)
  image = arrays['image'].astype(np.float32)
  h, w = image.shape[:2]
  crop = options.crop_size
  padded = np.empty(crop + (3,), np.float32)
  padded[:] = feature_extractor.mean_pixel(options.model_variant)
  padded[:h, :w] = image
  logits = model(padded[None], training=False).numpy()
  ref = arrays['logits']
  assert logits.shape == ref.shape
  max_err = np.abs(logits - ref).max()
  assert max_err <= 1e-3 * ref.std(), (vector_id, max_err, ref.std())
  # Predictions: the original's upsample-argmax-crop, through our layers.
  up = model_lib.ops.resize_bilinear(tf.constant(logits), crop).numpy()
  predictions = up[0, :h, :w].argmax(-1)
  ties = reference.near_tie_mask(ref, crop, (h, w))
  mismatch = (predictions != arrays['predictions']) & ~ties
  assert mismatch.sum() == 0, (vector_id, int(mismatch.sum()))


@pytest.mark.parametrize('vector_id', ['P2', 'P3', 'P4', 'P5', 'P6', 'P7',
                                       'P8', 'P9', 'P10', 'P11', 'P12'])
def test_logits_equal_the_original(vector_id):
  _run_vector(vector_id)


@pytest.mark.slow
def test_logits_equal_the_original_full_size():
  _run_vector('P1')


@pytest.mark.parametrize('variant', common.MODEL_VARIANTS)
@pytest.mark.parametrize('output_stride', [8, 16, 32])
def test_output_shapes(variant, output_stride):
  crop = 65
  if variant == 'mobilenet_edgetpu':  # No decoder end points (the original).
    with pytest.raises(ValueError, match='has no decoder end points'):
      conftest.small_options(variant, crop, output_stride)
    options = conftest.small_options(variant, crop, output_stride,
                                     decoder_output_stride=None)
  else:
    options = conftest.small_options(variant, crop, output_stride)
    model = model_lib.build_model(options)
    assert tuple(model.output.shape) == (None, 17, 17, 5)
  no_decoder = model_lib.build_model(options.replace(
      decoder_output_stride=None, add_image_level_feature=False))
  size = (crop - 1) // output_stride + 1
  assert tuple(no_decoder.output.shape) == (None, size, size, 5)


def test_rebuild_at_other_strides_with_the_same_weights():
  options = conftest.small_options('xception_41', 65, 16)
  os16 = conftest.assign_recipe_values(model_lib.build_model(options), 5)
  images = conftest.random_images(1, 65, 65)
  base = os16(images).numpy()
  for output_stride in (8, 32):
    other = model_lib.build_model(options.replace(output_stride=output_stride))
    model_lib.transfer_weights(os16, other)
    src = model_lib.tf1_variable_map(os16)
    for name, var in model_lib.tf1_variable_map(other).items():
      np.testing.assert_array_equal(var.numpy(), src[name].numpy())
    out = other(images).numpy()
    assert out.shape == base.shape and np.isfinite(out).all()
    assert not np.allclose(out, base)  # A different network, same weights.
  # Back at OS16 the numbers are those of the original model.
  again = model_lib.build_model(options)
  model_lib.transfer_weights(os16, again)
  np.testing.assert_array_equal(again(images).numpy(), base)


def test_transfer_weights_names_mismatches():
  a = model_lib.build_model(conftest.small_options('xception_41', 33))
  b = model_lib.build_model(conftest.small_options(
      'xception_41', 33, decoder_output_stride=None))
  with pytest.raises(ValueError, match='decoder'):
    model_lib.transfer_weights(a, b)


@pytest.mark.parametrize('fine_tune', [False, True])
def test_batch_size_one_in_training_mode(fine_tune):
  options = conftest.small_options('mobilenet_v2', 33, 16)
  model = model_lib.build_model(options, fine_tune_batch_norm=fine_tune)
  conftest.assign_recipe_values(model)
  bn = model_lib.tf1_variable_map(model)[
      'MobilenetV2/Conv/BatchNorm/moving_mean']
  before = bn.numpy().copy()
  images = conftest.random_images(1, 33, 33)
  with tf.GradientTape() as tape:
    logits = model(images, training=True)
    loss = tf.reduce_mean(tf.square(logits))
  grads = tape.gradient(loss, model.trainable_weights)
  assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)
  assert np.allclose(bn.numpy(), before) != fine_tune


def test_image_pyramid_merges_per_scale_logits():
  options = conftest.small_options('xception_41', 65, 16)
  for method, reduce in (('max', np.maximum), ('avg', None)):
    opts = options.replace(merge_method=method)
    model = model_lib.build_model(opts, image_pyramid=[0.5, 1.0],
                                  per_scale_outputs=True)
    conftest.assign_recipe_values(model, 2)
    out = {k: v.numpy() for k, v in model(
        conftest.random_images(2, 65, 65)).items()}
    assert set(out) == {'merged_logits', 'logits_0.50', 'logits_1.00'}
    assert out['logits_0.50'].shape == out['merged_logits'].shape == (
        2, 17, 17, 5)
    want = (reduce(out['logits_0.50'], out['logits_1.00']) if reduce else
            (out['logits_0.50'] + out['logits_1.00']) / 2)
    np.testing.assert_allclose(out['merged_logits'], want, atol=1e-6)


def test_any_input_size_without_crop_size():
  options = conftest.small_options('xception_41', 65, 16)
  fixed = conftest.assign_recipe_values(model_lib.build_model(options), 6)
  dynamic = model_lib.build_model(options.replace(crop_size=None))
  model_lib.transfer_weights(fixed, dynamic)
  images = conftest.random_images(1, 65, 65)
  np.testing.assert_allclose(dynamic(images), fixed(images), atol=1e-5)
  assert dynamic(conftest.random_images(1, 49, 81)).shape == (1, 13, 21, 5)


def test_non_separable_heads_and_sum_merge_names():
  options = conftest.small_options(
      'resnet_v1_50', 33, 16, aspp_with_separable_conv=False,
      decoder_use_separable_conv=False)
  names = set(model_lib.tf1_variable_map(model_lib.build_model(options)))
  assert 'aspp1/weights' in names
  assert 'decoder/decoder_conv0/decoder_conv0_1/weights' in names
  assert 'decoder/decoder_conv0/decoder_conv0_2/BatchNorm/gamma' in names
  two_stage = model_lib.build_model(options.replace(
      decoder_output_stride=(8, 4), decoder_use_separable_conv=True))
  names = set(model_lib.tf1_variable_map(two_stage))
  assert 'decoder/feature_projection0_1/weights' in names
  assert 'decoder/decoder_conv1_1_pointwise/weights' in names
  assert two_stage.output.shape[1] == 9


@pytest.mark.parametrize('variant', ['mobilenet_v2', 'xception_41',
                                     'resnet_v1_50_beta', 'resnet_v1_50'])
def test_keras_file_round_trip(variant, tmp_path):
  """model.save('x.keras') / keras.models.load_model: same outputs, and the
  options it was built from in the saved config (one model per backbone
  family: Xception, ResNet beta and plain stems, MobileNetV2)."""
  import keras  # pylint: disable=g-import-not-at-top
  options = conftest.small_options(variant, crop=33)
  model = conftest.assign_recipe_values(model_lib.build_model(options))
  path = str(tmp_path / 'deeplab.keras')
  model.save(path)
  loaded = keras.models.load_model(path)
  assert isinstance(loaded, model_lib.DeepLab)
  assert loaded.model_options == options
  images = conftest.random_images(1, 33, 33)
  np.testing.assert_array_equal(np.asarray(loaded(images)),
                                np.asarray(model(images)))


