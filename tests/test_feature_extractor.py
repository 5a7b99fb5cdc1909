"""Tests of the backbones: shapes, end points, atrous consistency."""
import numpy as np
import pytest

from deeplab import common
from deeplab import model as model_lib
from deeplab.core import feature_extractor
import conftest

CROP = 65  # (n - 1) divisible by 32: every stride samples aligned pixels.


@pytest.mark.parametrize('variant', common.MODEL_VARIANTS)
@pytest.mark.parametrize('output_stride', [8, 16, 32])
def test_feature_and_end_point_shapes(variant, output_stride):
  points = feature_extractor.get_backbone(variant).decoder_end_points
  options = conftest.small_options(variant, CROP, output_stride,
                                   decoder_output_stride=(4,) if points
                                   else None)
  names = [points[s] for s in sorted(points)]
  model = conftest.backbone_model(options, names)
  features, *low = model.outputs if names else (model.output,)
  size = (CROP - 1) // output_stride + 1
  depth = {'mobilenet_v2': 320, 'mobilenet_v3_large_seg': 480,
           'mobilenet_v3_small_seg': 288, 'mobilenet_edgetpu': 1280,
           'resnet_v1_18': 512, 'resnet_v1_18_beta': 512}.get(variant, 2048)
  assert tuple(features.shape) == (None, size, size, depth)
  for stride, tensor in zip(sorted(points), low):
    expected = (CROP - 1) // min(stride, output_stride) + 1
    assert tuple(tensor.shape[1:3]) == (expected, expected), (stride, names)


def test_output_stride_4_is_all_atrous():
  # The ResNet stem and pool already reach stride 4; everything after is
  # atrous, as in the original (output_stride / 4 == 1).
  for variant in ('resnet_v1_50', 'xception_41'):
    options = conftest.small_options(variant, CROP, 4)
    model = conftest.backbone_model(options)
    assert tuple(model.output.shape[1:3]) == (17, 17)


@pytest.mark.parametrize('variant, multi_grid', [
    ('xception_41', None), ('xception_41', (1, 2, 1)),
    ('resnet_v1_50', (1, 2, 4)), ('resnet_v1_50_beta', None),
    ('resnet_v1_18_beta', (1, 2)), ('mobilenet_v2', None),
    ('mobilenet_edgetpu', None)])
# (MobileNetV3 is not atrous-consistent, in the original either: its
# squeeze-and-excitation averages the whole denser map, not the subsampled
# positions.)
def test_atrous_features_equal_subsampled_dense_features(variant, multi_grid):
  """As the original's tests: with shared weights, features at output stride
  8 and 16, subsampled, equal those at the nominal stride 32."""
  images = conftest.random_images(2, CROP, CROP)
  outputs = {}
  nominal = None
  for output_stride in (32, 16, 8):
    options = conftest.small_options(
        variant, CROP, output_stride, multi_grid=multi_grid,
        decoder_output_stride=None if variant == 'mobilenet_edgetpu'
        else (4,))
    model = conftest.backbone_model(options)
    if nominal is None:
      nominal = conftest.assign_recipe_values(model, seed=3)
    else:
      model_lib.transfer_weights(nominal, model)
    factor = 32 // output_stride
    outputs[output_stride] = model(images).numpy()[:, ::factor, ::factor]
  scale = np.abs(outputs[32]).max()
  for output_stride in (16, 8):
    np.testing.assert_allclose(outputs[output_stride], outputs[32],
                               atol=1e-4 * scale)


def test_mean_pixel_and_normalisation_per_variant():
  assert feature_extractor.mean_pixel('xception_65') == (127.5, 127.5, 127.5)
  assert feature_extractor.mean_pixel('resnet_v1_101_beta') == (
      127.5, 127.5, 127.5)
  assert feature_extractor.mean_pixel('resnet_v1_50') == (123.15, 115.90,
                                                           103.06)
  assert feature_extractor.mean_pixel(None) == (123.15, 115.90, 103.06)
  # As the original: ResNet-18 subtracts the ImageNet mean, yet pads with
  # 127.5.
  assert feature_extractor.mean_pixel('resnet_v1_18') == (127.5,) * 3
  norm = {v: feature_extractor.get_backbone(v).normalization
          for v in common.MODEL_VARIANTS}
  assert norm['resnet_v1_101'] == 'imagenet_mean'
  assert norm['mobilenet_v2'] == 'unit_range'


def test_mobilenet_depth_multiplier_half():
  options = conftest.small_options('mobilenet_v2', CROP, 16,
                                   depth_multiplier=0.5, atrous_rates=None,
                                   decoder_output_stride=None)
  model = conftest.backbone_model(options)
  assert model.output.shape[-1] == 160
  shapes = {k: tuple(v.shape)
            for k, v in model_lib.tf1_variable_map(model).items()}
  # Channels are not rounded to multiples of 8 at multiplier 0.5 (divisible_by
  # 1), expansions still are.
  assert shapes['MobilenetV2/Conv/weights'] == (3, 3, 3, 16)
  assert shapes['MobilenetV2/expanded_conv/project/weights'] == (1, 1, 16, 8)
  assert shapes['MobilenetV2/expanded_conv_1/expand/weights'] == (1, 1, 8, 48)
