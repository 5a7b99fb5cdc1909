"""The original's model zoo as data: every published checkpoint by name.

Every checkpoint of the original's `g3doc/model_zoo.md` (its latest
revision) and `g3doc/quantize.md` is an `Entry` of `ENTRIES`: its published
name, tarball, backbone and every model option, the dataset it was trained
on, and each published evaluation (`Row`: output stride, eval scales, flip,
mIoU, Multiply-Adds). `get(name)` finds one (an unknown name suggests the
nearest).
"""
import dataclasses
import difflib
from typing import Optional, Tuple

from deeplab import common
from deeplab.data import datasets

DOWNLOAD_ROOT = 'http://download.tensorflow.org/models/'

# ASPP rates of the Xception and ResNet entries per output stride (the
# original's convention: [6, 12, 18] at OS16, doubled at OS8).
ASPP_RATES = {16: (6, 12, 18), 8: (12, 24, 36), 32: (3, 6, 9)}

# Evaluation settings of each dataset, as the original's g3doc runs them.
DATASET_EVAL = {
    'pascal_voc_seg': dict(eval_split='val', eval_crop_size=(513, 513)),
    'cityscapes': dict(eval_split='val_fine', eval_crop_size=(1025, 2049)),
    'ade20k': dict(eval_split='val', eval_crop_size=(513, 513)),
}


class ZooError(ValueError):
  """A zoo name, tarball, download or output folder that does not work (the
  message says which and what to do)."""


@dataclasses.dataclass(frozen=True)
class Row:
  """One published evaluation of a checkpoint.

  Attributes:
    output_stride: Eval output stride.
    eval_scales: Eval scales.
    add_flipped_images: Left-right flips.
    miou: Published mIoU in percent (None where the page has none).
    split: The split of `miou`: 'val' or 'test'.
    multiply_adds: Published Multiply-Adds in billions (None: not given).
    pixel_accuracy: Published pixel accuracy in percent (ADE20K).
    quantized: An 8-bit (quantization-aware) checkpoint.
  """
  output_stride: int
  eval_scales: Tuple[float, ...] = (1.0,)
  add_flipped_images: bool = False
  miou: Optional[float] = None
  split: str = 'val'
  multiply_adds: Optional[float] = None
  pixel_accuracy: Optional[float] = None

  def to_dict(self):
    d = dataclasses.asdict(self)
    d['eval_scales'] = list(self.eval_scales)
    return d


_MS_VOC = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)
_MS_CITYSCAPES = (0.75, 1.0, 1.25)
_MS_DPC = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0)


@dataclasses.dataclass(frozen=True)
class Entry:
  """A checkpoint of the original's model zoo.

  Attributes:
    name: The published checkpoint name.
    tarball: The tarball's file name (under `DOWNLOAD_ROOT`).
    size: Published size, e.g. '23MB'.
    dataset: 'pascal_voc_seg', 'cityscapes', 'ade20k', or None for the
      ImageNet/COCO backbone checkpoints (backbone weights only).
    model_variant: The backbone.
    options: Model options besides `output_stride`, `atrous_rates` and the
      classes (e.g. decoder, depth multiplier, the MobileNetV3 head).
    aspp: Whether ASPP has atrous branches (`ASPP_RATES` per stride).
    rows: The published evaluations.
    pretrained: What it was trained on, as the page says.
    resize: (min_resize_value, max_resize_value) of its evaluation
      (ADE20K); the resize factor is the output stride.
    eval_crop_size: Eval crop when the dataset's default does not apply.
    multiply_adds_crop: The input size of the published Multiply-Adds when
      it is not the eval crop (EdgeTPU-DeepLab's are for 513x513).
    multiply_adds_are_flops: The page's column counts floating-point
      operations (about two per Multiply-Add), not Multiply-Adds.
  """
  name: str
  tarball: str
  size: str
  dataset: Optional[str]
  model_variant: str
  options: dict = dataclasses.field(default_factory=dict)
  aspp: bool = False
  rows: Tuple[Row, ...] = ()
  pretrained: str = ''
  resize: Optional[Tuple[int, int]] = None
  eval_crop_size: Optional[Tuple[int, int]] = None
  multiply_adds_crop: Optional[Tuple[int, int]] = None
  multiply_adds_are_flops: bool = False

  @property
  def url(self):
    return DOWNLOAD_ROOT + self.tarball

  @property
  def backbone_only(self):
    return self.dataset is None

  @property
  def num_classes(self):
    return datasets.BUILTIN[self.dataset].num_classes if self.dataset else 1

  @property
  def quantized(self):
    return self.options.get('quantize_delay_step', -1) >= 0

  def row(self, output_stride=None):
    """The published row at `output_stride` (None: the first row)."""
    if not self.rows:
      return Row(output_stride or 16)
    if output_stride is None:
      return self.rows[0]
    for row in self.rows:
      if row.output_stride == output_stride:
        return row
    return Row(output_stride)  # Unpublished: single scale, no flip.

  def option_values(self, output_stride=None):
    """Every model option of the entry at `output_stride` (a dict)."""
    stride = output_stride or self.row().output_stride
    values = dict(model_variant=self.model_variant, output_stride=stride,
                  outputs_to_num_classes={common.OUTPUT_TYPE:
                                          self.num_classes})
    values['atrous_rates'] = ASPP_RATES.get(stride) if self.aspp else None
    values.update(self.options)
    return values

  @property
  def built(self):
    """Whether this project builds the entry's architecture."""
    return self.unbuilt_reason() is None

  def unbuilt_reason(self):
    """Why the architecture cannot be built here, or None."""
    try:
      common.ModelOptions(**self.option_values())
    except (TypeError, ValueError) as e:
      return str(e)
    return None

  def model_options(self, output_stride=None, crop_size=None):
    """The entry's `ModelOptions` (raises `ZooError` when not built)."""
    reason = self.unbuilt_reason()
    if reason:
      raise ZooError('%s is in the original\'s model zoo, but its '
                     'architecture (%s) is not built by this project yet: %s'
                     % (self.name, self.model_variant, reason))
    return common.ModelOptions(crop_size=crop_size,
                               **self.option_values(output_stride))

  def eval_defaults(self, output_stride=None):
    """The flags that reproduce the published row at `output_stride`:
    dataset, split, crop, scales, flips, resizing."""
    if self.dataset is None:
      return {}
    row = self.row(output_stride)
    out = dict(dataset=self.dataset, **DATASET_EVAL[self.dataset])
    if self.eval_crop_size:
      out['eval_crop_size'] = self.eval_crop_size
    out['eval_scales'] = row.eval_scales
    out['add_flipped_images'] = row.add_flipped_images
    if self.resize:
      out.update(min_resize_value=self.resize[0],
                 max_resize_value=self.resize[1],
                 resize_factor=row.output_stride)
    # A zoo folder holds one checkpoint: evaluate and visualise it once.
    out.update(max_number_of_evaluations=1, max_number_of_iterations=1)
    # The same settings under the names other commands give them.
    out.update(vis_split=out['eval_split'], vis_crop_size=out['eval_crop_size'],
               crop_size=out['eval_crop_size'],
               inference_scales=out['eval_scales'],
               colormap=datasets.colormap_for(self.dataset),
               colormap_type=datasets.colormap_for(self.dataset))
    return out

  def summary(self):
    """One JSON-friendly dict (the `--json` listing)."""
    values = self.option_values()
    return dict(
        name=self.name, url=self.url, tarball=self.tarball, size=self.size,
        dataset=self.dataset, model_variant=self.model_variant,
        output_stride=values['output_stride'],
        atrous_rates=list(values['atrous_rates'] or []) or None,
        decoder_output_stride=list(
            values.get('decoder_output_stride') or []) or None,
        num_classes=self.num_classes,
        depth_multiplier=values.get('depth_multiplier', 1.0),
        eval_scales=list(self.row().eval_scales),
        add_flipped_images=self.row().add_flipped_images,
        quantized=self.quantized, backbone_only=self.backbone_only,
        pretrained=self.pretrained, built=self.built,
        options={k: (list(v) if isinstance(v, tuple) else v)
                 for k, v in values.items()},
        rows=[r.to_dict() for r in self.rows])


_MNV2 = dict(model_variant='mobilenet_v2')
_XCEPTION_DECODER = dict(decoder_output_stride=(4,))
# The MobileNetV3 Cityscapes flags of model_zoo.md.
_MNV3_HEAD = dict(
    image_pooling_crop_size=(769, 769), image_pooling_stride=(4, 5),
    add_image_level_feature=True, aspp_convs_filters=128,
    aspp_with_concat_projection=False, aspp_with_squeeze_and_excitation=True,
    decoder_use_sum_merge=True, decoder_filters=19,
    decoder_output_is_logits=True, image_se_uses_qsigmoid=True,
    decoder_output_stride=(8,))
_DPC = dict(dense_prediction_cell_config={
    'json': 'dense_prediction_cell_branch5_top1_cityscapes.json'},
            decoder_output_stride=(4,))

ENTRIES = (
    # PASCAL VOC 2012 (model_zoo.md).
    Entry('mobilenetv2_dm05_coco_voc_trainaug',
          'deeplabv3_mnv2_dm05_pascal_trainaug_2018_10_01.tar.gz', '7.6MB',
          'pascal_voc_seg', 'mobilenet_v2', dict(depth_multiplier=0.5),
          rows=(Row(16, miou=70.19, multiply_adds=0.88),),
          pretrained='ImageNet, MS-COCO, VOC 2012 train_aug'),
    Entry('mobilenetv2_dm05_coco_voc_trainval',
          'deeplabv3_mnv2_dm05_pascal_trainval_2018_10_01.tar.gz', '7.6MB',
          'pascal_voc_seg', 'mobilenet_v2', dict(depth_multiplier=0.5),
          rows=(Row(8, miou=71.83, split='test', multiply_adds=2.84),),
          pretrained='ImageNet, MS-COCO, VOC 2012 train_aug + trainval'),
    Entry('mobilenetv2_coco_voc_trainaug',
          'deeplabv3_mnv2_pascal_train_aug_2018_01_29.tar.gz', '23MB',
          'pascal_voc_seg', 'mobilenet_v2',
          rows=(Row(16, miou=75.32, multiply_adds=2.75),
                Row(8, _MS_VOC, True, miou=77.33, multiply_adds=152.59)),
          pretrained='ImageNet, MS-COCO, VOC 2012 train_aug'),
    Entry('mobilenetv2_coco_voc_trainval',
          'deeplabv3_mnv2_pascal_trainval_2018_01_29.tar.gz', '23MB',
          'pascal_voc_seg', 'mobilenet_v2',
          rows=(Row(8, _MS_VOC, True, miou=80.25, split='test',
                    multiply_adds=152.59),),
          pretrained='ImageNet, MS-COCO, VOC 2012 train_aug + trainval'),
    Entry('xception65_coco_voc_trainaug',
          'deeplabv3_pascal_train_aug_2018_01_04.tar.gz', '439MB',
          'pascal_voc_seg', 'xception_65', _XCEPTION_DECODER, aspp=True,
          rows=(Row(16, miou=82.20, multiply_adds=54.17),
                Row(8, _MS_VOC, True, miou=83.58, multiply_adds=3055.35)),
          pretrained='ImageNet, MS-COCO, VOC 2012 train_aug'),
    Entry('xception65_coco_voc_trainval',
          'deeplabv3_pascal_trainval_2018_01_04.tar.gz', '439MB',
          'pascal_voc_seg', 'xception_65', _XCEPTION_DECODER, aspp=True,
          rows=(Row(8, _MS_VOC, True, miou=87.80, split='test',
                    multiply_adds=3055.35),),
          pretrained='ImageNet, MS-COCO, VOC 2012 train_aug + trainval'),
    # Quantized (quantize.md): quantization-aware MobileNetV2.
    Entry('mobilenetv2_dm05_coco_voc_trainaug_8bit',
          'deeplabv3_mnv2_dm05_pascal_train_aug_8bit_2019_04_26.tar.gz',
          '8.2MB', 'pascal_voc_seg', 'mobilenet_v2',
          dict(depth_multiplier=0.5, quantize_delay_step=0),
          rows=(Row(16, miou=69.65, multiply_adds=0.88),),
          pretrained='ImageNet, MS-COCO, VOC 2012 train_aug; 8-bit'),
    Entry('mobilenetv2_coco_voc_trainaug_8bit',
          'deeplabv3_mnv2_pascal_train_aug_8bit_2019_04_26.tar.gz', '24MB',
          'pascal_voc_seg', 'mobilenet_v2', dict(quantize_delay_step=0),
          rows=(Row(16, miou=74.26, multiply_adds=2.75),),
          pretrained='ImageNet, MS-COCO, VOC 2012 train_aug; 8-bit'),
    # Cityscapes.
    Entry('mobilenetv2_coco_cityscapes_trainfine',
          'deeplabv3_mnv2_cityscapes_train_2018_02_05.tar.gz', '23MB',
          'cityscapes', 'mobilenet_v2',
          rows=(Row(16, miou=70.71, multiply_adds=21.27),
                Row(8, _MS_CITYSCAPES, True, miou=73.57,
                    multiply_adds=433.24)),
          pretrained='ImageNet, MS-COCO, Cityscapes train_fine'),
    Entry('mobilenetv3_large_cityscapes_trainfine',
          'deeplab_mnv3_large_cityscapes_trainfine_2019_11_15.tar.gz', '17MB',
          'cityscapes', 'mobilenet_v3_large_seg', _MNV3_HEAD,
          rows=(Row(32, miou=72.41, multiply_adds=15.95),),
          pretrained='Cityscapes train_fine (no ImageNet)',
          multiply_adds_are_flops=True),
    Entry('mobilenetv3_small_cityscapes_trainfine',
          'deeplab_mnv3_small_cityscapes_trainfine_2019_11_15.tar.gz', '5MB',
          'cityscapes', 'mobilenet_v3_small_seg', _MNV3_HEAD,
          rows=(Row(32, miou=68.99, multiply_adds=4.63),),
          pretrained='Cityscapes train_fine (no ImageNet)',
          multiply_adds_are_flops=True),
    Entry('xception65_cityscapes_trainfine',
          'deeplabv3_cityscapes_train_2018_02_06.tar.gz', '439MB',
          'cityscapes', 'xception_65', _XCEPTION_DECODER, aspp=True,
          rows=(Row(16, miou=78.79, multiply_adds=418.64),
                Row(8, _MS_CITYSCAPES, True, miou=80.42,
                    multiply_adds=8677.92)),
          pretrained='ImageNet, Cityscapes train_fine'),
    Entry('xception71_dpc_cityscapes_trainfine',
          'deeplab_cityscapes_xception71_trainfine_2018_09_08.tar.gz', '445MB',
          'cityscapes', 'xception_71', _DPC,
          rows=(Row(16, miou=80.31, multiply_adds=502.07),),
          pretrained='ImageNet, MS-COCO, Cityscapes train_fine'),
    Entry('xception71_dpc_cityscapes_trainval',
          'deeplab_cityscapes_xception71_trainvalfine_2018_09_08.tar.gz',
          '446MB', 'cityscapes', 'xception_71', _DPC,
          rows=(Row(8, _MS_DPC, True, miou=82.66, split='test'),),
          pretrained='ImageNet, MS-COCO, Cityscapes trainval_fine + coarse'),
    # EdgeTPU-DeepLab (Multiply-Adds as published, for 513x513 inputs).
    Entry('edgetpu-deeplab', 'edgetpu-deeplab_2020_03_09.tar.gz', '-',
          'cityscapes', 'mobilenet_edgetpu', dict(aspp_convs_filters=256),
          rows=(Row(32, miou=70.6, multiply_adds=5.6),
                Row(16, miou=74.1, multiply_adds=7.1)),
          pretrained='ImageNet, Cityscapes train_fine',
          multiply_adds_crop=(513, 513)),
    Entry('edgetpu-deeplab-slim', 'edgetpu-deeplab-slim_2020_03_09.tar.gz',
          '-', 'cityscapes', 'mobilenet_edgetpu',
          dict(aspp_convs_filters=128, depth_multiplier=0.75),
          rows=(Row(32, miou=70.0, multiply_adds=3.5),
                Row(16, miou=73.2, multiply_adds=4.3)),
          pretrained='ImageNet, Cityscapes train_fine',
          multiply_adds_crop=(513, 513)),
    # ADE20K (inputs resized so that the longest side is 257 / 513).
    Entry('mobilenetv2_ade20k_train',
          'deeplabv3_mnv2_ade20k_train_2018_12_03.tar.gz', '24.8MB',
          'ade20k', 'mobilenet_v2', dict(decoder_output_stride=(4,)),
          rows=(Row(16, miou=32.04, pixel_accuracy=75.41),),
          pretrained='ImageNet, ADE20K train', resize=(257, 257),
          eval_crop_size=(257, 257)),
    Entry('xception65_ade20k_train',
          'deeplabv3_xception_ade20k_train_2018_05_29.tar.gz', '439MB',
          'ade20k', 'xception_65', _XCEPTION_DECODER, aspp=True,
          rows=(Row(8, _MS_VOC, True, miou=45.65, pixel_accuracy=82.52),),
          pretrained='ImageNet, ADE20K train', resize=(513, 513)),
    # Backbones pretrained on ImageNet (and COCO), for training.
    Entry('xception_41_imagenet', 'xception_41_2018_05_09.tar.gz', '288MB',
          None, 'xception_41', _XCEPTION_DECODER, aspp=True,
          pretrained='ImageNet'),
    Entry('xception_65_imagenet', 'deeplabv3_xception_2018_01_04.tar.gz',
          '447MB', None, 'xception_65', _XCEPTION_DECODER, aspp=True,
          pretrained='ImageNet'),
    Entry('xception_65_imagenet_coco',
          'xception_65_coco_pretrained_2018_10_02.tar.gz', '292MB', None,
          'xception_65', _XCEPTION_DECODER, aspp=True,
          pretrained='ImageNet, MS-COCO'),
    Entry('xception_71_imagenet', 'xception_71_2018_05_09.tar.gz', '474MB',
          None, 'xception_71', _XCEPTION_DECODER, aspp=True,
          pretrained='ImageNet'),
    Entry('resnet_v1_50_beta_imagenet', 'resnet_v1_50_2018_05_04.tar.gz',
          '274MB', None, 'resnet_v1_50_beta',
          dict(_XCEPTION_DECODER, multi_grid=(1, 2, 4)), aspp=True,
          pretrained='ImageNet'),
    Entry('resnet_v1_101_beta_imagenet', 'resnet_v1_101_2018_05_04.tar.gz',
          '477MB', None, 'resnet_v1_101_beta',
          dict(_XCEPTION_DECODER, multi_grid=(1, 2, 4)), aspp=True,
          pretrained='ImageNet'),
)

BY_NAME = {e.name: e for e in ENTRIES}


def get(name):
  """The entry called `name`; an unknown name suggests the nearest ones."""
  if name in BY_NAME:
    return BY_NAME[name]
  near = difflib.get_close_matches(name, BY_NAME, n=3, cutoff=0.4)
  raise ZooError('%r is not in the model zoo.%s Run "deeplab-zoo --list" for '
                 'every name.' % (name, ' Did you mean %s?' % ', '.join(near)
                                  if near else ''))
