"""The model options object and the flags every script shares.

`ModelOptions` mirrors the original's `common.ModelOptions`: one immutable
object that configures the network everywhere (training, evaluation,
visualisation, export, statistics). Its defaults are the original's flag
defaults, defined once here; `define_model_flags` registers those flags with
absl under the original names and `ModelOptions.from_flags` reads them back.
"""
import dataclasses
from typing import Dict, Optional, Tuple

from absl import flags

# Output type of semantic segmentation (the original's common.OUTPUT_TYPE).
OUTPUT_TYPE = 'semantic'

# Semantic segmentation item names used by the input pipeline.
LABELS_CLASS = 'labels_class'
IMAGE = 'image'
HEIGHT = 'height'
WIDTH = 'width'
IMAGE_NAME = 'image_name'
LABEL = 'label'
ORIGINAL_IMAGE = 'original_image'
TEST_SET = 'test'

MODEL_VARIANTS = (
    'xception_41', 'xception_65', 'xception_71',
    'resnet_v1_50', 'resnet_v1_50_beta', 'resnet_v1_101', 'resnet_v1_101_beta',
    'mobilenet_v2',
)

# Options of the original that this implementation does not build. They are
# accepted at their default values only, so a flag file written for the
# original keeps working, and anything else is a clear error.
_UNSUPPORTED = {
    'dense_prediction_cell_config': None,
    'use_bounded_activation': False,
    'aspp_with_squeeze_and_excitation': False,
    'decoder_output_is_logits': False,
    'image_se_uses_qsigmoid': False,
}


def _tuple_or_none(value, cast=int):
  if value is None:
    return None
  if isinstance(value, str):
    value = [v for v in value.split(',') if v.strip()]
  return tuple(cast(v) for v in value) if len(value) else None


@dataclasses.dataclass(frozen=True)
class ModelOptions:
  """Immutable options configuring a DeepLab model (the original's fields).

  Attributes:
    outputs_to_num_classes: Output type -> number of classes, e.g.
      `{'semantic': 21}`.
    crop_size: `(height, width)` of the network input, or None for any size
      (image pooling then averages the whole feature map).
    atrous_rates: Rates of the ASPP 3x3 branches, e.g. `(6, 12, 18)` at
      output stride 16; None for no atrous branches (DeepLabv3 MobileNetV2).
    output_stride: Ratio of input to encoder-output resolution (8, 16, 32).
    merge_method: 'max' or 'avg', merging the logits of an image pyramid.
    add_image_level_feature: Whether ASPP has the image pooling branch.
    image_pooling_crop_size: Crop size whose feature map the image pooling
      window covers (None: `crop_size`).
    image_pooling_stride: Stride of the image pooling window.
    aspp_with_batch_norm: Whether ASPP (with BatchNorm) is used at all.
    aspp_with_separable_conv: Separable (depthwise + pointwise) ASPP branches.
    multi_grid: Unit rates of the last block, e.g. `(1, 2, 4)`.
    decoder_output_stride: Strides of the low-level features the decoder taps,
      e.g. `(4,)`; None for no decoder.
    decoder_use_separable_conv: Separable 3x3 convs in the decoder.
    logits_kernel_size: Kernel size of the logits conv.
    model_variant: Backbone name, see `MODEL_VARIANTS`.
    depth_multiplier: Channel multiplier of MobileNetV2.
    divisible_by: Channel rounding of MobileNetV2 (None: 8 at multiplier 1,
      else 1, as the original).
    prediction_with_upsampled_logits: Upsample logits before argmax.
    aspp_with_concat_projection: Apply the 1x1 projection after the concat.
    aspp_convs_filters: Channels of every ASPP branch.
    decoder_use_sum_merge: Merge decoder inputs by sum instead of concat.
    decoder_filters: Channels of the decoder convs.
    label_weights: Per-class loss weights (used by training).
    batch_norm_decay: BatchNorm moving-average decay of the head.
    dense_prediction_cell_config, use_bounded_activation,
    aspp_with_squeeze_and_excitation, decoder_output_is_logits,
    image_se_uses_qsigmoid: Present for compatibility with the original's
      flags; only their default values are supported.
  """
  outputs_to_num_classes: Dict[str, int] = dataclasses.field(
      default_factory=lambda: {OUTPUT_TYPE: 21})
  crop_size: Optional[Tuple[int, int]] = None
  atrous_rates: Optional[Tuple[int, ...]] = None
  output_stride: int = 8
  merge_method: str = 'max'
  add_image_level_feature: bool = True
  image_pooling_crop_size: Optional[Tuple[int, int]] = None
  image_pooling_stride: Tuple[int, int] = (1, 1)
  aspp_with_batch_norm: bool = True
  aspp_with_separable_conv: bool = True
  multi_grid: Optional[Tuple[int, ...]] = None
  decoder_output_stride: Optional[Tuple[int, ...]] = None
  decoder_use_separable_conv: bool = True
  logits_kernel_size: int = 1
  model_variant: str = 'mobilenet_v2'
  depth_multiplier: float = 1.0
  divisible_by: Optional[int] = None
  prediction_with_upsampled_logits: bool = True
  aspp_with_concat_projection: bool = True
  aspp_convs_filters: int = 256
  decoder_use_sum_merge: bool = False
  decoder_filters: int = 256
  label_weights: Optional[Tuple[float, ...]] = None
  batch_norm_decay: float = 0.9997
  dense_prediction_cell_config: Optional[dict] = None
  use_bounded_activation: bool = False
  aspp_with_squeeze_and_excitation: bool = False
  decoder_output_is_logits: bool = False
  image_se_uses_qsigmoid: bool = False

  def __post_init__(self):
    # Normalise list-like fields to tuples so options are hashable and
    # comparable whatever the caller passed (lists, comma strings, ints).
    norm = object.__setattr__
    norm(self, 'crop_size', _tuple_or_none(self.crop_size))
    norm(self, 'atrous_rates', _tuple_or_none(self.atrous_rates))
    norm(self, 'image_pooling_crop_size',
         _tuple_or_none(self.image_pooling_crop_size))
    norm(self, 'image_pooling_stride',
         _tuple_or_none(self.image_pooling_stride) or (1, 1))
    norm(self, 'multi_grid', _tuple_or_none(self.multi_grid))
    dos = self.decoder_output_stride
    if isinstance(dos, int):
      dos = (dos,)
    norm(self, 'decoder_output_stride', _tuple_or_none(dos))
    norm(self, 'label_weights', _tuple_or_none(self.label_weights, float))
    norm(self, 'outputs_to_num_classes', dict(self.outputs_to_num_classes))
    self.validate()

  @property
  def num_classes(self) -> int:
    """Number of classes of the semantic output."""
    return self.outputs_to_num_classes[OUTPUT_TYPE]

  @property
  def logits_output_stride(self) -> int:
    """Stride of the logits: the finest decoder stride, else output_stride."""
    if self.decoder_output_stride:
      return min(self.decoder_output_stride)
    return self.output_stride

  def replace(self, **changes) -> 'ModelOptions':
    """Returns a copy with `changes` applied (the original's `_replace`)."""
    return dataclasses.replace(self, **changes)

  def validate(self):
    """Raises ValueError naming the flag of any option that cannot be built."""
    if self.model_variant not in MODEL_VARIANTS:
      raise ValueError('--model_variant=%r is not supported; choose one of %s.'
                       % (self.model_variant, ', '.join(MODEL_VARIANTS)))
    if OUTPUT_TYPE not in self.outputs_to_num_classes:
      raise ValueError('outputs_to_num_classes needs a %r entry.' % OUTPUT_TYPE)
    if self.num_classes < 1:
      raise ValueError('The number of classes must be positive, got %d.'
                       % self.num_classes)
    if self.output_stride not in (4, 8, 16, 32):
      raise ValueError('--output_stride=%r: expected 8, 16 or 32 (4 for '
                       'ResNet/Xception experiments).' % (self.output_stride,))
    if self.crop_size is not None and (
        len(self.crop_size) != 2 or min(self.crop_size) < 1):
      raise ValueError('crop size must be two positive integers "H,W", got %r.'
                       % (self.crop_size,))
    if self.multi_grid is not None and len(self.multi_grid) != 3:
      raise ValueError('--multi_grid needs exactly three values (e.g. 1,2,4), '
                       'got %r.' % (self.multi_grid,))
    if self.merge_method not in ('max', 'avg'):
      raise ValueError('--merge_method must be max or avg, got %r.'
                       % self.merge_method)
    if self.decoder_output_stride:
      for s in self.decoder_output_stride:
        if s not in (4, 8, 16):
          raise ValueError('--decoder_output_stride=%r: the backbones expose '
                           'low-level features at strides 4, 8 and 16 only.'
                           % (self.decoder_output_stride,))
    if self.aspp_with_batch_norm and self.logits_kernel_size != 1:
      raise ValueError('--logits_kernel_size must be 1 when '
                       '--aspp_with_batch_norm is set (as in the original).')
    if self.depth_multiplier <= 0:
      raise ValueError('--depth_multiplier must be positive.')
    if self.label_weights is not None and len(self.label_weights) not in (
        1, self.num_classes):
      raise ValueError('--label_weights has %d values; expected one per class '
                       '(%d).' % (len(self.label_weights), self.num_classes))
    for name, default in _UNSUPPORTED.items():
      if getattr(self, name) != default:
        raise ValueError('--%s=%r is an option of the original this '
                         'implementation does not build.'
                         % (name, getattr(self, name)))

  def to_dict(self) -> dict:
    """A JSON-friendly dict of every field."""
    d = dataclasses.asdict(self)
    for k, v in d.items():
      if isinstance(v, tuple):
        d[k] = list(v)
    return d

  @classmethod
  def from_flags(cls, flag_values=None, *, num_classes=None,
                 outputs_to_num_classes=None, crop_size=None,
                 atrous_rates=None, output_stride=None) -> 'ModelOptions':
    """Builds options from absl flags defined by `define_model_flags`.

    Like the original's constructor, the caller passes what differs between
    scripts (number of classes, crop size, rates, stride); everything else
    comes from the shared flags.
    """
    fv = flags.FLAGS if flag_values is None else flag_values
    if outputs_to_num_classes is None:
      outputs_to_num_classes = {OUTPUT_TYPE: num_classes or 21}
    kwargs = dict(
        outputs_to_num_classes=outputs_to_num_classes,
        crop_size=crop_size,
        atrous_rates=(atrous_rates if atrous_rates is not None
                      else _flag(fv, 'atrous_rates')),
        output_stride=(output_stride if output_stride is not None
                       else _flag(fv, 'output_stride', 16)),
    )
    for field in dataclasses.fields(cls):
      if field.name in kwargs or field.name in _UNSUPPORTED:
        continue
      if field.name in fv:
        kwargs[field.name] = fv[field.name].value
    if _flag(fv, 'dense_prediction_cell_json'):
      kwargs['dense_prediction_cell_config'] = {
          'json': fv.dense_prediction_cell_json}
    for name in ('use_bounded_activation', 'aspp_with_squeeze_and_excitation',
                 'decoder_output_is_logits', 'image_se_uses_qsigmoid'):
      if name in fv:
        kwargs[name] = fv[name].value
    return cls(**kwargs)


def _flag(fv, name, default=None):
  return fv[name].value if name in fv else default


def parse_crop_size(value, flag_name='crop_size') -> Tuple[int, int]:
  """Parses "H,W" (or a list of two) into a tuple, naming the flag on error."""
  try:
    crop = _tuple_or_none(value)
    if crop is None or len(crop) != 2 or min(crop) < 1:
      raise ValueError
  except (TypeError, ValueError):
    raise ValueError('--%s must be two positive integers "H,W", got %r.'
                     % (flag_name, value)) from None
  return crop


def _define(kind, name, default, help_text, fv, **kwargs):
  if name not in fv:
    getattr(flags, 'DEFINE_' + kind)(name, default, help=help_text,
                                     flag_values=fv, **kwargs)


def define_inference_flags(flag_values=None, dilated_depthwise='auto'):
  """Registers the inference-speed flags of eval, vis, export and predict.

  Args:
    flag_values: absl FlagValues (default: the global FLAGS).
    dilated_depthwise: The script's default for --dilated_depthwise (export
      uses 'space_to_batch', which runs on every TensorFlow build).
  """
  fv = flags.FLAGS if flag_values is None else flag_values
  _define('boolean', 'fold_batch_norm', True,
          'Run inference with BatchNorm folded into the convolutions (same '
          'outputs up to float rounding, about 10-20% faster on CPU).', fv)
  _define('enum', 'dilated_depthwise', dilated_depthwise,
          'With --fold_batch_norm: how dilated depthwise convs run. auto: a '
          'native dilated kernel for rates up to 6 where the CPU kernel '
          'supports it, else space_to_batch; space_to_batch runs on any '
          'TensorFlow build.', fv,
          enum_values=['auto', 'native', 'space_to_batch'])


def define_model_flags(flag_values=None, output_stride_default=16):
  """Registers the original's model flags (names and defaults).

  Safe to call more than once. `atrous_rates` and `output_stride` are defined
  here too, with the script's default output stride (export uses 8 in the
  original, the other scripts 16).
  """
  fv = flags.FLAGS if flag_values is None else flag_values
  d = ModelOptions.__dataclass_fields__
  _define('integer', 'min_resize_value', None,
          'Desired size of the smaller image side.', fv)
  _define('integer', 'max_resize_value', None,
          'Maximum allowed size of the larger image side.', fv)
  _define('integer', 'resize_factor', None,
          'Resized dimensions are multiple of factor plus one.', fv)
  _define('boolean', 'keep_aspect_ratio', True,
          'Keep aspect ratio after resizing or not.', fv)
  _define('integer', 'logits_kernel_size', d['logits_kernel_size'].default,
          'Kernel size of the convolution that produces the logits.', fv)
  _define('enum', 'model_variant', d['model_variant'].default,
          'DeepLab model variant.', fv, enum_values=list(MODEL_VARIANTS))
  _define('multi_float', 'image_pyramid', None,
          'Input scales for multi-scale feature extraction.', fv)
  _define('boolean', 'add_image_level_feature',
          d['add_image_level_feature'].default, 'Add image level feature.', fv)
  _define('list', 'image_pooling_crop_size', None,
          'Image pooling crop size [height, width] used in the ASPP module. '
          'When None, crop_size is used.', fv)
  _define('list', 'image_pooling_stride', '1,1',
          'Image pooling stride [height, width] used in the ASPP image '
          'pooling.', fv)
  _define('boolean', 'aspp_with_batch_norm', d['aspp_with_batch_norm'].default,
          'Use batch norm parameters for ASPP or not.', fv)
  _define('boolean', 'aspp_with_separable_conv',
          d['aspp_with_separable_conv'].default,
          'Use separable convolution for ASPP or not.', fv)
  _define('multi_integer', 'multi_grid', None,
          'Employ a hierarchy of atrous rates for ResNet.', fv)
  _define('float', 'depth_multiplier', d['depth_multiplier'].default,
          'Multiplier for the depth (number of channels) for all convolution '
          'ops used in MobileNet.', fv)
  _define('integer', 'divisible_by', None,
          'An integer that ensures the layer # channels are divisible by '
          'this value. Used in MobileNet.', fv)
  _define('list', 'decoder_output_stride', None,
          'Comma-separated list of strings with the number specifying output '
          'stride of low-level features at each network level. The decoder '
          'is not used when None.', fv)
  _define('boolean', 'decoder_use_separable_conv',
          d['decoder_use_separable_conv'].default,
          'Employ separable convolution for decoder or not.', fv)
  _define('enum', 'merge_method', d['merge_method'].default,
          'Scheme to merge multi scale features.', fv,
          enum_values=['max', 'avg'])
  _define('boolean', 'prediction_with_upsampled_logits',
          d['prediction_with_upsampled_logits'].default,
          'Upsample logits before argmax (True) or argmax then nearest '
          'upsampling (False).', fv)
  _define('string', 'dense_prediction_cell_json', '',
          'A JSON file that specifies the dense prediction cell '
          '(not supported).', fv)
  _define('boolean', 'use_bounded_activation', False,
          'Whether or not to use bounded activations (not supported).', fv)
  _define('boolean', 'aspp_with_concat_projection',
          d['aspp_with_concat_projection'].default,
          'ASPP with concat projection.', fv)
  _define('boolean', 'aspp_with_squeeze_and_excitation', False,
          'ASPP with squeeze and excitation (not supported).', fv)
  _define('integer', 'aspp_convs_filters', d['aspp_convs_filters'].default,
          'ASPP convolution filters.', fv)
  _define('boolean', 'decoder_use_sum_merge', False,
          'Decoder uses simple sum merge.', fv)
  _define('integer', 'decoder_filters', d['decoder_filters'].default,
          'Decoder filters.', fv)
  _define('boolean', 'decoder_output_is_logits', False,
          'Use decoder output as logits or not (not supported).', fv)
  _define('boolean', 'image_se_uses_qsigmoid', False,
          'Use q-sigmoid (not supported).', fv)
  _define('multi_float', 'label_weights', None,
          'A list of label weights, each element represents the weight for '
          'the label of its index.', fv)
  _define('float', 'batch_norm_decay', d['batch_norm_decay'].default,
          'Batchnorm decay.', fv)
  _define('multi_integer', 'atrous_rates', None,
          'Atrous rates for atrous spatial pyramid pooling.', fv)
  _define('integer', 'output_stride', output_stride_default,
          'The ratio of input to output spatial resolution.', fv)
  return fv
