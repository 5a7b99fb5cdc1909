"""What each job is asked to do: one config dataclass per command.

`TrainConfig`, `EvalConfig`, `VisConfig`, `ExportConfig` and `PredictConfig`
hold every flag of train.py, eval.py, vis.py, export_model.py and
deeplab-predict but the model's (`common.ModelOptions`): field names and
defaults are the original's flags where it has them, defined once here
(`deeplab.cli.flags` defines the flags from these fields). How inference
runs is a `common.InferenceOptions` field, how images are resized a
`common.ResizeOptions` field; `flat_dict` gives a config as
{flag: value}, the form a run folder saves. Nothing here imports
TensorFlow, so a command's `--help` starts at once.
"""
import dataclasses
import os
from typing import ClassVar, Dict, Optional, Tuple

from deeplab import colormaps
from deeplab import common
from deeplab.data import datasets

# Choices of the training flags.
TRAINING_PRECISIONS = ('float32', 'mixed_float16', 'mixed_bfloat16')
OPTIMIZERS = ('momentum', 'adam')
LEARNING_POLICIES = ('poly', 'step', 'cosine')
STRATEGIES = ('auto', 'default', 'one_device', 'mirrored', 'multi_worker',
              'tpu')
# What an --export_path ending says it is.
FROZEN_GRAPH_SUFFIX = '.pb'
ONNX_SUFFIX = '.onnx'
OPENVINO_SUFFIX = '.xml'


def flag_name(config_cls, field, sub_field=None):
  """The flag of a config field (or of its sub-config's field): its own
  name, unless the config's `flag_aliases` renames it (export's
  `--inference_scales` fills `inference.eval_scales`)."""
  path = field if sub_field is None else '%s.%s' % (field, sub_field)
  aliases = getattr(config_cls, 'flag_aliases', {}) or {}
  return aliases.get(path, sub_field or field)


def flat_dict(config) -> dict:
  """{flag name: value} of a job config, its sub-configs flattened (the
  form of `train_config.json`); tuples as lists."""
  out = {}
  for field in dataclasses.fields(config):
    value = getattr(config, field.name)
    if dataclasses.is_dataclass(value):
      for sub in dataclasses.fields(value):
        out[flag_name(type(config), field.name, sub.name)] = getattr(
            value, sub.name)
    else:
      out[field.name] = value
  return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


@dataclasses.dataclass
class TrainConfig:
  """Everything about a training job except the model (`ModelOptions`).

  Field names and defaults are the original train.py flags; fields after
  `save_summaries_images` go beyond it.
  """
  train_logdir: Optional[str] = None
  dataset: str = 'pascal_voc_seg'
  dataset_dir: Optional[str] = None
  train_split: str = 'train'
  train_crop_size: Tuple[int, int] = (513, 513)
  train_batch_size: int = 8
  training_number_of_steps: int = 30000
  learning_policy: str = 'poly'
  base_learning_rate: float = 1e-4
  learning_rate_decay_factor: float = 0.1
  learning_rate_decay_step: int = 2000
  learning_power: float = 0.9
  decay_steps: float = 0.0
  end_learning_rate: float = 0.0
  slow_start_step: int = 0
  slow_start_learning_rate: float = 1e-4
  slow_start_burnin_type: str = 'none'
  optimizer: str = 'momentum'
  momentum: float = 0.9
  adam_learning_rate: float = 1e-3
  adam_epsilon: float = 1e-8
  weight_decay: float = 4e-5
  fine_tune_batch_norm: bool = True
  upsample_logits: bool = True
  top_k_percent_pixels: float = 1.0
  hard_example_mining_step: int = 0
  last_layer_gradient_multiplier: float = 1.0
  last_layers_contain_logits_only: bool = False
  tf_initial_checkpoint: Optional[str] = None
  initialize_last_layer: bool = True
  image_pyramid: Optional[Tuple[float, ...]] = None
  min_scale_factor: float = 0.5
  max_scale_factor: float = 2.0
  scale_factor_step_size: float = 0.25
  num_clones: int = 1
  log_steps: int = 10
  save_interval_secs: int = 1200
  save_summaries_secs: int = 600
  save_summaries_images: bool = False
  # Beyond the original.
  save_summaries_steps: int = 0
  save_interval_steps: int = 0
  max_checkpoints_to_keep: int = 5
  take_over_lock: bool = False
  distribution_strategy: str = 'auto'
  tpu: Optional[str] = None
  sync_batch_norm: bool = False
  dropout_keep_prob: float = 0.9
  train_batch_norm_decay: Optional[float] = None
  precision: str = 'float32'
  seed: Optional[int] = None
  deterministic: bool = False
  num_readers: int = 4
  out_of_range_labels: str = 'error'
  resize: common.ResizeOptions = dataclasses.field(
      default_factory=common.ResizeOptions)

  def validate(self):
    """Raises ValueError naming the flag of the first bad value."""
    self.dataset_dir = datasets.implied_dataset_dir(self.dataset,
                                                    self.dataset_dir)
    # Saved with the run (train_config.json): paths that do not depend on
    # the working directory of training.
    if self.dataset_dir:
      self.dataset_dir = os.path.abspath(self.dataset_dir)
    if self.dataset and (self.dataset.endswith('.json') or
                         os.path.isdir(self.dataset)):
      self.dataset = os.path.abspath(self.dataset)
    if not self.train_logdir:
      raise ValueError('--train_logdir is required.')
    self.train_crop_size = common.parse_crop_size(self.train_crop_size,
                                                  'train_crop_size')
    positive = ('train_batch_size', 'training_number_of_steps', 'log_steps',
                'max_checkpoints_to_keep', 'num_clones')
    for name in positive:
      if getattr(self, name) < 1:
        raise ValueError('--%s must be at least 1, got %r.'
                         % (name, getattr(self, name)))
    if not 0.0 < self.top_k_percent_pixels <= 1.0:
      raise ValueError('--top_k_percent_pixels must be in (0, 1], got %r.'
                       % self.top_k_percent_pixels)
    if self.precision not in TRAINING_PRECISIONS:
      raise ValueError('--precision must be one of %s, got %r.'
                       % (', '.join(TRAINING_PRECISIONS), self.precision))
    if self.optimizer not in OPTIMIZERS:
      raise ValueError('--optimizer must be one of %s, got %r.'
                       % (', '.join(OPTIMIZERS), self.optimizer))
    if not 0.0 < self.dropout_keep_prob <= 1.0:
      raise ValueError('--dropout_keep_prob must be in (0, 1], got %r.'
                       % self.dropout_keep_prob)
    if self.train_batch_norm_decay is not None and not (
        0.0 <= self.train_batch_norm_decay < 1.0):
      raise ValueError('--train_batch_norm_decay must be in [0, 1).')
    if self.weight_decay < 0:
      raise ValueError('--weight_decay must be >= 0.')
    if self.out_of_range_labels not in ('error', 'ignore'):
      raise ValueError('--out_of_range_labels must be error or ignore, got %r.'
                       % self.out_of_range_labels)
    if not 0 < self.min_scale_factor <= self.max_scale_factor:
      raise ValueError('--min_scale_factor=%r and --max_scale_factor=%r: '
                       'need 0 < min <= max.' % (self.min_scale_factor,
                                                 self.max_scale_factor))
    if self.scale_factor_step_size < 0:
      raise ValueError('--scale_factor_step_size must be >= 0, got %r.'
                       % self.scale_factor_step_size)
    if self.deterministic and self.seed is None:
      self.seed = 0
    return self

  def to_dict(self):
    """The flags of the run (`train_config.json`); not how one start took
    its lock."""
    flags = flat_dict(self)
    flags.pop('take_over_lock', None)
    return flags


@dataclasses.dataclass
class EvalConfig:
  """The original eval.py flags (and a few beyond: trimap, JSON output)."""
  checkpoint_dir: Optional[str] = None
  eval_logdir: Optional[str] = None
  dataset: str = 'pascal_voc_seg'
  dataset_dir: Optional[str] = None
  eval_split: str = 'val'
  eval_batch_size: int = 1
  eval_crop_size: Tuple[int, int] = (513, 513)
  eval_interval_secs: int = 300
  max_number_of_evaluations: int = 0
  trimap_widths: Tuple[int, ...] = ()
  max_images: int = 0
  resize: common.ResizeOptions = dataclasses.field(
      default_factory=common.ResizeOptions)
  inference: common.InferenceOptions = dataclasses.field(
      default_factory=common.InferenceOptions)

  def validate(self):
    self.dataset_dir = datasets.implied_dataset_dir(self.dataset,
                                                    self.dataset_dir)
    if not self.checkpoint_dir:
      raise ValueError('--checkpoint_dir is required.')
    self.eval_crop_size = common.parse_crop_size(self.eval_crop_size,
                                                 'eval_crop_size')
    if self.eval_batch_size < 1:
      raise ValueError('--eval_batch_size must be at least 1.')
    try:
      self.trimap_widths = tuple(int(w) for w in self.trimap_widths)
    except ValueError:
      raise ValueError('--trimap_widths must be integers, got %r.'
                       % (self.trimap_widths,)) from None
    if any(w < 0 for w in self.trimap_widths):
      raise ValueError('--trimap_widths must be non-negative.')
    return self


@dataclasses.dataclass
class VisConfig:
  """The original vis.py flags, plus overlays and plain-image input."""
  checkpoint_dir: Optional[str] = None
  vis_logdir: Optional[str] = None
  dataset: str = 'pascal_voc_seg'
  dataset_dir: Optional[str] = None
  vis_split: str = 'val'
  vis_batch_size: int = 1
  vis_crop_size: Tuple[int, int] = (513, 513)
  colormap_type: Optional[str] = None
  also_save_raw_predictions: bool = False
  eval_interval_secs: int = 300
  max_number_of_iterations: int = 0
  # Beyond the original.
  max_images: int = 0
  save_overlays: bool = True
  overlay_alpha: float = 0.5
  image_path: Optional[str] = None
  num_classes: Optional[int] = None
  allow_large_images: bool = False
  resize: common.ResizeOptions = dataclasses.field(
      default_factory=common.ResizeOptions)
  inference: common.InferenceOptions = dataclasses.field(
      default_factory=common.InferenceOptions)

  def validate(self):
    self.dataset_dir = datasets.implied_dataset_dir(self.dataset,
                                                    self.dataset_dir)
    if not self.checkpoint_dir:
      raise ValueError('--checkpoint_dir is required.')
    if not self.vis_logdir:
      raise ValueError('--vis_logdir is required.')
    self.vis_crop_size = common.parse_crop_size(self.vis_crop_size,
                                                'vis_crop_size')
    if self.vis_batch_size < 1:
      raise ValueError('--vis_batch_size must be at least 1.')
    if self.colormap_type and self.colormap_type not in colormaps.COLORMAPS:
      raise ValueError('--colormap_type must be one of %s, got %r.' % (
          ', '.join(sorted(colormaps.COLORMAPS)), self.colormap_type))
    if not 0 <= self.overlay_alpha <= 1:
      raise ValueError('--overlay_alpha must be in [0, 1].')
    if self.max_images < 0:
      raise ValueError('--max_images must be >= 0.')
    return self


@dataclasses.dataclass
class ExportConfig:
  """The original export_model.py flags, plus TFLite."""
  checkpoint_path: Optional[str] = None
  export_path: Optional[str] = None
  num_classes: int = 21
  crop_size: Tuple[int, int] = (513, 513)
  save_inference_graph: bool = False
  # Beyond the original.
  tflite: bool = False
  tflite_quantize: str = 'none'
  onnx_probabilities: bool = False
  onnx_quantize: str = 'none'
  onnx_input_size: Optional[Tuple[int, int]] = None
  representative_images: Optional[str] = None
  num_representative_images: int = 16
  resize: common.ResizeOptions = dataclasses.field(
      default_factory=common.ResizeOptions)
  # The export runs on every TensorFlow build: 'auto' would bake in this
  # machine's native dilated kernel where it has one.
  inference: common.InferenceOptions = dataclasses.field(
      default_factory=lambda: common.InferenceOptions(
          dilated_depthwise='space_to_batch'))

  # The original's export names the scales --inference_scales.
  flag_aliases: ClassVar[Dict[str, str]] = {
      'inference.eval_scales': 'inference_scales'}

  def validate(self):
    if not self.checkpoint_path or not self.export_path:
      raise ValueError('--checkpoint_path and --export_path are required.')
    self.crop_size = common.parse_crop_size(self.crop_size, 'crop_size')
    if self.tflite_quantize not in ('none', 'int8'):
      raise ValueError('--tflite_quantize must be none or int8, got %r.'
                       % self.tflite_quantize)
    if self.tflite_quantize == 'int8' and not self.representative_images:
      raise ValueError('--tflite_quantize=int8 needs --representative_images '
                       '(an image folder or glob): they calibrate the '
                       'tensors without learned ranges, and measure the '
                       'agreement with the float model.')
    single_file = self.frozen_graph or self.onnx or self.openvino
    if single_file and (self.tflite or self.tflite_quantize != 'none'):
      raise ValueError('--tflite needs a folder as --export_path, not the '
                       'file %s.' % self.export_path)
    if self.onnx_quantize not in ('none', 'int8'):
      raise ValueError('--onnx_quantize must be none or int8, got %r.'
                       % self.onnx_quantize)
    if self.onnx_quantize == 'int8' and not self.onnx:
      raise ValueError('--onnx_quantize=int8 needs an --export_path ending '
                       'in %s.' % ONNX_SUFFIX)
    if self.onnx_quantize == 'int8' and not self.representative_images:
      raise ValueError('--onnx_quantize=int8 needs --representative_images '
                       '(an image folder or glob): they calibrate the '
                       'activations, and measure the agreement with the '
                       'float model.')
    if self.onnx_probabilities and not (self.onnx or self.openvino):
      raise ValueError('--onnx_probabilities needs an --export_path ending '
                       'in %s or %s.' % (ONNX_SUFFIX, OPENVINO_SUFFIX))
    if self.onnx_input_size is not None:
      if not self.onnx:
        raise ValueError('--onnx_input_size needs an --export_path ending '
                         'in %s.' % ONNX_SUFFIX)
      self.onnx_input_size = common.parse_crop_size(self.onnx_input_size,
                                                    'onnx_input_size')
    portable = self.onnx or self.openvino
    if portable and self.inference.inference_precision != 'float32':
      raise ValueError('--export_path=%s: ONNX and OpenVINO exports are '
                       'float32 (--onnx_quantize=int8 adds an int8 ONNX '
                       'model; OpenVINO picks its own precision when it '
                       'compiles); --inference_precision=%s is for '
                       'TensorFlow graphs (leave it out).' % (
                           self.export_path,
                           self.inference.inference_precision))
    return self

  @property
  def frozen_graph(self):
    """Whether the export is the original's frozen GraphDef (a .pb path)."""
    return self.export_path.endswith(FROZEN_GRAPH_SUFFIX)

  @property
  def onnx(self):
    """Whether the export is an ONNX model (a .onnx path)."""
    return self.export_path.endswith(ONNX_SUFFIX)

  @property
  def openvino(self):
    """Whether the export is an OpenVINO model (a .xml path)."""
    return self.export_path.endswith(OPENVINO_SUFFIX)


@dataclasses.dataclass
class PredictConfig:
  """The prediction tool's flags."""
  checkpoint: Optional[str] = None
  image: Optional[str] = None
  output_dir: Optional[str] = None
  output_npz: Optional[str] = None
  output_png: Optional[str] = None
  output_label_png: Optional[str] = None
  num_classes: Optional[int] = None
  eval_crop_size: Optional[Tuple[int, int]] = None
  colormap: Optional[str] = None
  allow_large_images: bool = False
  inference: common.InferenceOptions = dataclasses.field(
      default_factory=common.InferenceOptions)

  def validate(self):
    if not self.checkpoint or not self.image:
      raise ValueError('--checkpoint and --image are required.')
    if self.eval_crop_size:
      self.eval_crop_size = common.parse_crop_size(self.eval_crop_size,
                                                   'eval_crop_size')
    single = [f for f in ('output_npz', 'output_png', 'output_label_png')
              if getattr(self, f)]
    if self.several_images:
      if not self.output_dir:
        raise ValueError('--image=%s is %s: give --output_dir=DIR for one '
                         'output per image (or vis.py --image_path).' % (
                             self.image, 'a folder' if os.path.isdir(
                                 self.image) else 'a glob'))
      if single:
        raise ValueError('--%s writes one image\'s result; with several '
                         'images use --output_dir.' % single[0])
    elif self.output_dir and single:
      raise ValueError('--output_dir and --%s both say where to write: give '
                       'one.' % single[0])
    return self

  @property
  def several_images(self):
    return os.path.isdir(self.image) or any(c in self.image for c in '*?[')
