"""Tests of deeplab.common: ModelOptions defaults and validation."""
import pytest

from deeplab import common


def test_defaults_mirror_the_original():
  o = common.ModelOptions()
  assert o.model_variant == 'mobilenet_v2'
  assert o.output_stride == 8  # ModelOptions' own default in the original.
  assert o.atrous_rates is None and o.decoder_output_stride is None
  assert o.add_image_level_feature and o.aspp_with_batch_norm
  assert o.aspp_with_separable_conv and o.decoder_use_separable_conv
  assert o.image_pooling_stride == (1, 1)
  assert o.merge_method == 'max' and o.logits_kernel_size == 1
  assert o.aspp_convs_filters == 256 and o.decoder_filters == 256
  assert o.batch_norm_decay == 0.9997 and o.num_classes == 21


def test_list_fields_are_normalised_to_tuples():
  o = common.ModelOptions(crop_size='513,513', atrous_rates=[6, 12, 18],
                          decoder_output_stride=['4'], multi_grid=[1, 2, 4],
                          model_variant='xception_65')
  assert o.crop_size == (513, 513)
  assert o.atrous_rates == (6, 12, 18)
  assert o.decoder_output_stride == (4,)
  assert o.logits_output_stride == 4
  assert o.replace(decoder_output_stride=None).logits_output_stride == 8


@pytest.mark.parametrize('kwargs, flag', [
    (dict(model_variant='vgg_16'), '--model_variant'),
    (dict(output_stride=12), '--output_stride'),
    (dict(multi_grid=(1, 2)), '--multi_grid'),
    (dict(decoder_output_stride=(2,)), '--decoder_output_stride'),
    (dict(crop_size=(0, 10)), 'crop size'),
    (dict(merge_method='median'), '--merge_method'),
    (dict(logits_kernel_size=3), '--logits_kernel_size'),
    (dict(use_bounded_activation=True), '--use_bounded_activation'),
    (dict(label_weights=(1.0, 2.0)), '--label_weights'),
])
def test_invalid_options_name_the_flag(kwargs, flag):
  with pytest.raises(ValueError, match=flag):
    common.ModelOptions(**kwargs)


def test_parse_crop_size_names_the_flag():
  assert common.parse_crop_size('321,513', 'train_crop_size') == (321, 513)
  with pytest.raises(ValueError, match='--train_crop_size'):
    common.parse_crop_size('321', 'train_crop_size')
