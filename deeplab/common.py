"""The options objects: what the network is, and how it runs.

`ModelOptions` mirrors the original's `common.ModelOptions`: one immutable
object that configures the network everywhere (training, evaluation,
visualisation, export, statistics). Its defaults are the original's flag
defaults, defined once here; `deeplab.cli.flags` registers those flags with
absl under the original names and builds options back from them.
`InferenceOptions` says how a network runs (scales, flips, folding,
precision, tiles), `ResizeOptions` how images are resized first.
"""
import dataclasses
import json
import os
from typing import Dict, Optional, Tuple

# Output type of semantic segmentation (the original's common.OUTPUT_TYPE).
OUTPUT_TYPE = 'semantic'

MODEL_VARIANTS = (
    'xception_41', 'xception_65', 'xception_71',
    'resnet_v1_18', 'resnet_v1_18_beta', 'resnet_v1_50', 'resnet_v1_50_beta',
    'resnet_v1_101', 'resnet_v1_101_beta', 'mobilenet_v2',
    'mobilenet_v3_large_seg', 'mobilenet_v3_small_seg',
    'mobilenet_edgetpu',
)
# The original's NAS backbones, not built here.
NAS_VARIANTS = ('nas_pnasnet', 'nas_hnasnet')

# Options of the original that this implementation does not build. They are
# accepted at their default values only, so a flag file written for the
# original keeps working, and anything else is a clear error.
_UNSUPPORTED = {
    'use_bounded_activation': False,
}

# The Dense Prediction Cells shipped with the package (bare names of
# --dense_prediction_cell_json).
CELLS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'core')


def load_dense_prediction_cell(value):
  """The operations of a Dense Prediction Cell (a list of dicts) from
  `--dense_prediction_cell_json`: a JSON file, the bare name of a cell
  shipped with the package (`dense_prediction_cell_branch5_top1_
  cityscapes.json`), a `{'json': path}` dict, or the list itself.

  Raises:
    ValueError: naming the flag when the file is missing or not a cell.
  """
  if value is None or value == '':
    return None
  if isinstance(value, dict):
    value = value.get('json', value.get('config'))
  if isinstance(value, str):
    path = value
    shipped = os.path.join(CELLS_DIR, os.path.basename(path))
    if not os.path.exists(path) and os.path.exists(shipped):
      path = shipped
    if not os.path.exists(path):
      raise ValueError('--dense_prediction_cell_json=%s does not exist (the '
                       'package ships dense_prediction_cell_branch5_top1_'
                       'cityscapes.json).' % value)
    try:
      with open(path) as f:
        value = json.load(f)
    except ValueError as e:
      raise ValueError('--dense_prediction_cell_json=%s is not JSON: %s'
                       % (path, e)) from e
  if not isinstance(value, (list, tuple)) or not value or not all(
      isinstance(op, dict) and op.get('op') in ('conv', 'pyramid_pooling')
      and isinstance(op.get('input'), int) for op in value):
    raise ValueError('--dense_prediction_cell_json: a cell is a list of '
                     '{"op": "conv" or "pyramid_pooling", "input": ..., ...} '
                     'operations, got %r.' % (value,))
  return [dict(op) for op in value]


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
    quantize_delay_step: Quantization-aware training (the original's flag of
      train, eval and export): >= 0 puts 8-bit fake-quant ops after every
      conv and residual sum, quantizing in training from this step on and
      always in inference (`core/quantize.py`); -1: a float model.
    dense_prediction_cell_config: The operations of a Dense Prediction Cell
      (`load_dense_prediction_cell`) used instead of ASPP; None for ASPP.
    aspp_with_squeeze_and_excitation: The image-pooling branch gates ASPP's
      output (multiplies it) instead of being concatenated (MobileNetV3).
    decoder_output_is_logits: The decoder's sum is the logits (1x1 convs
      with biases, no BatchNorm or activation; no `logits/semantic`).
    image_se_uses_qsigmoid: The gate is relu6(x + 3) * 0.16667 instead of a
      sigmoid.
    use_bounded_activation: Present for compatibility with the original's
      flags; only its default value is supported.
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
  quantize_delay_step: int = -1
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
    norm(self, 'dense_prediction_cell_config',
         load_dense_prediction_cell(self.dense_prediction_cell_config))
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

  def for_data(self, num_classes=None, crop_size=None) -> 'ModelOptions':
    """A copy for a run on a dataset: its number of classes (None: keep
    this one's) and the run's crop (None: any input size)."""
    return self.replace(outputs_to_num_classes={
        OUTPUT_TYPE: num_classes or self.num_classes}, crop_size=crop_size)

  def validate(self):
    """Raises ValueError naming the flag of any option that cannot be built."""
    if self.model_variant in NAS_VARIANTS:
      raise ValueError('--model_variant=%s: the original\'s NAS backbones '
                       'are not built by this project; choose one of %s.'
                       % (self.model_variant, ', '.join(MODEL_VARIANTS)))
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
    grid = 2 if self.model_variant.startswith('resnet_v1_18') else 3
    if self.multi_grid is not None and len(self.multi_grid) != grid:
      raise ValueError('--multi_grid needs exactly %s values (e.g. %s) for '
                       '%s, got %r.' % ('two' if grid == 2 else 'three',
                                        '1,2' if grid == 2 else '1,2,4',
                                        self.model_variant,
                                        self.multi_grid))
    if self.merge_method not in ('max', 'avg'):
      raise ValueError('--merge_method must be max or avg, got %r.'
                       % self.merge_method)
    if self.decoder_output_stride:
      for s in self.decoder_output_stride:
        if s not in (4, 8, 16):
          raise ValueError('--decoder_output_stride=%r: the backbones expose '
                           'low-level features at strides 4, 8 and 16 only.'
                           % (self.decoder_output_stride,))
    if self.decoder_output_stride and self.model_variant == 'mobilenet_edgetpu':
      raise ValueError('--decoder_output_stride: mobilenet_edgetpu has no '
                       'decoder end points in the original (its models use '
                       'none); leave the flag out.')
    if self.decoder_output_is_logits:
      if not self.decoder_output_stride:
        raise ValueError('--decoder_output_is_logits needs a decoder '
                         '(--decoder_output_stride).')
      if self.decoder_filters != self.num_classes:
        raise ValueError('--decoder_output_is_logits: the decoder\'s '
                         'output is the logits, so --decoder_filters=%d must '
                         'be the number of classes (%d).'
                         % (self.decoder_filters, self.num_classes))
    pool_crop = self.image_pooling_crop_size
    if (self.add_image_level_feature and pool_crop and self.crop_size and
        not self.dense_prediction_cell_config):
      window = [int((c - 1) / self.output_stride + 1) for c in pool_crop]
      features = [int((c - 1) / self.output_stride + 1)
                  for c in self.crop_size]
      if window[0] > features[0] or window[1] > features[1]:
        raise ValueError(
            '--image_pooling_crop_size=%d,%d pools a %dx%d window at output '
            'stride %d, larger than the %dx%d features of a %dx%d crop: use '
            'a crop of at least %dx%d (the original fails here too), or a '
            'smaller --image_pooling_crop_size.' % (
                pool_crop[0], pool_crop[1], window[0], window[1],
                self.output_stride, features[0], features[1],
                self.crop_size[0], self.crop_size[1], pool_crop[0],
                pool_crop[1]))
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


# How inference runs (`InferenceOptions`): its precisions and the kernels of
# dilated depthwise convs (`core/folding.choose_dilated_depthwise`).
INFERENCE_PRECISIONS = ('float32', 'bfloat16')
DILATED_DEPTHWISE_CHOICES = ('auto', 'native', 'space_to_batch', 'padded')
TILE_IMAGE_POOLING_CHOICES = ('image', 'tile')


@dataclasses.dataclass(frozen=True)
class InferenceOptions:
  """How the network runs at inference (not what it is: `ModelOptions`).

  One object for eval, vis, export, predict and the benchmarks; each field
  is the flag of the same name (export's `--inference_scales` fills
  `eval_scales`). `deeplab.runtime` builds the graph it describes.

  Attributes:
    eval_scales: Input scales whose softmaxes are averaged (the original's
      multi-scale evaluation).
    add_flipped_images: Also average the left-right flipped passes.
    fold_batch_norm: Run the graph with BatchNorm folded into the
      convolutions (`core/folding.py`): the same outputs up to float
      rounding, faster on CPU.
    inference_precision: 'float32', or 'bfloat16' (weights and activations
      in bfloat16 up to the logits, float32 from the logits on); bfloat16
      runs the folded graph.
    dilated_depthwise: How the folded graph runs dilated depthwise convs:
      'auto', 'native', 'space_to_batch' (portable across TensorFlow
      builds) or 'padded' (the native kernel after an explicit pad: the
      graph ONNX runtimes and OpenVINO compile).
    argmax_shortcut: With one pass, labels through
      `core.ops.upsampled_argmax` (the argmax of the upsampled logits,
      upsampling only near class boundaries); False upsamples everywhere
      (converters whose op sets lack the shortcut).
    tile_size: (height, width) of the tiles an image larger than one tile
      is segmented in (`deeplab/tiling.py`); None: the whole image at once.
    tile_overlap: Overlap of neighbouring tiles: pixels when >= 1, else a
      fraction of the tile size.
    tile_batch_size: Tiles run together.
    tile_image_pooling: Where the ASPP image-level feature of a tiled image
      comes from: 'image', the mean over the whole image's features, as
      whole-image inference computes it (a first pass over the tiles runs
      the backbone for it: about twice the time); 'tile', each tile's own
      mean (one pass; the context a model trained on crops near the tile
      size saw).
    memory_budget_mb: Without `tile_size`, an image whose whole-image
      inference would need more memory than this (an estimate, MB) is
      segmented in tiles (`inference.plan`: deeplab-predict, vis of image
      files, `Segmenter.segment`); None: half of this machine's memory; 0:
      always whole. Evaluation never tiles by itself.
  """
  eval_scales: Tuple[float, ...] = (1.0,)
  add_flipped_images: bool = False
  fold_batch_norm: bool = True
  inference_precision: str = 'float32'
  dilated_depthwise: str = 'auto'
  argmax_shortcut: bool = True
  tile_size: Optional[Tuple[int, int]] = None
  tile_overlap: float = 0.25
  tile_batch_size: int = 1
  tile_image_pooling: str = 'image'
  memory_budget_mb: Optional[int] = None

  def __post_init__(self):
    scales = self.eval_scales
    if scales is None or (isinstance(scales, (list, tuple)) and not scales):
      scales = (1.0,)
    object.__setattr__(self, 'eval_scales',
                       _tuple_or_none(scales, float) or (1.0,))
    if self.tile_size is not None and not (
        isinstance(self.tile_size, (list, tuple)) and not self.tile_size):
      object.__setattr__(self, 'tile_size',
                         parse_crop_size(self.tile_size, 'tile_size'))
    else:
      object.__setattr__(self, 'tile_size', None)
    self.validate()

  @property
  def single_pass(self) -> bool:
    """One scale, no flip: the labels are the argmax of one pass's logits."""
    return len(self.eval_scales) == 1 and not self.add_flipped_images

  def validate(self):
    """Raises ValueError naming the flag of a setting that cannot run."""
    if min(self.eval_scales) <= 0:
      raise ValueError('--eval_scales must be positive, got %r.'
                       % (self.eval_scales,))
    if self.inference_precision not in INFERENCE_PRECISIONS:
      raise ValueError('--inference_precision must be one of %s, got %r.'
                       % (', '.join(INFERENCE_PRECISIONS),
                          self.inference_precision))
    if self.inference_precision != 'float32' and not self.fold_batch_norm:
      raise ValueError('--inference_precision=%s runs the BatchNorm-folded '
                       'graph: it needs --fold_batch_norm (leave '
                       '--nofold_batch_norm out).' % self.inference_precision)
    if self.dilated_depthwise not in DILATED_DEPTHWISE_CHOICES:
      raise ValueError('--dilated_depthwise must be one of %s, got %r.'
                       % (', '.join(DILATED_DEPTHWISE_CHOICES),
                          self.dilated_depthwise))
    if self.tile_batch_size < 1:
      raise ValueError('--tile_batch_size must be at least 1, got %r.'
                       % self.tile_batch_size)
    if self.tile_image_pooling not in TILE_IMAGE_POOLING_CHOICES:
      raise ValueError('--tile_image_pooling must be one of %s, got %r.'
                       % (', '.join(TILE_IMAGE_POOLING_CHOICES),
                          self.tile_image_pooling))
    if self.memory_budget_mb is not None and self.memory_budget_mb < 0:
      raise ValueError('--memory_budget_mb must be >= 0 (0: always whole), '
                       'got %r.' % self.memory_budget_mb)
    if self.tile_size:
      self.tile_overlap_pixels()  # Raises on an overlap that cannot tile.

  def tile_overlap_pixels(self, output_stride=None) -> Tuple[int, int]:
    """The overlap of neighbouring tiles in pixels, (rows, columns).

    With `output_stride`, the step from one tile to the next is rounded
    down to a multiple of it (the overlap grows by less than a stride), so
    that every tile samples the pixel grid the whole image's features do.
    """
    overlap = self.tile_overlap
    if overlap < 0:
      raise ValueError('--tile_overlap must be pixels (>= 1) or a fraction '
                       'of the tile (0 <= f < 1), got %r.' % overlap)
    if overlap < 1:
      pixels = tuple(int(round(overlap * t)) for t in self.tile_size)
    elif overlap != int(overlap):
      raise ValueError('--tile_overlap=%r: pixels must be a whole number (a '
                       'fraction of the tile is below 1).' % overlap)
    else:
      pixels = (int(overlap),) * 2
    if max(p - t for p, t in zip(pixels, self.tile_size)) >= 0:
      raise ValueError('--tile_overlap=%r (%dx%d pixels) must be smaller '
                       'than --tile_size=%d,%d: each tile must add new '
                       'pixels.' % ((overlap,) + pixels + self.tile_size))
    if output_stride:
      pixels = tuple(
          t - max(output_stride, (t - p) // output_stride * output_stride)
          for p, t in zip(pixels, self.tile_size))
    return pixels

  def replace(self, **changes) -> 'InferenceOptions':
    return dataclasses.replace(self, **changes)

  def to_dict(self) -> dict:
    d = dataclasses.asdict(self)
    d['eval_scales'] = list(self.eval_scales)
    if self.tile_size:
      d['tile_size'] = list(self.tile_size)
    return d

  @classmethod
  def from_dict(cls, values) -> 'InferenceOptions':
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
      raise ValueError('Unknown inference options %s.' % ', '.join(unknown))
    return cls(**values)


@dataclasses.dataclass
class ResizeOptions:
  """The original's resize-to-range flags, read by the input pipeline and
  the export (`input_preprocess.resize_to_range`)."""
  min_resize_value: Optional[int] = None
  max_resize_value: Optional[int] = None
  resize_factor: Optional[int] = None
  keep_aspect_ratio: bool = True

  @property
  def active(self) -> bool:
    return bool(self.min_resize_value or self.max_resize_value)

  def as_tuple(self):
    """(min, max, factor, keep_aspect_ratio), as `inference.segment` takes."""
    return (self.min_resize_value, self.max_resize_value, self.resize_factor,
            self.keep_aspect_ratio)
