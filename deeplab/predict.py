r"""Segments one image with an original or a project checkpoint.

  python -m deeplab.predict --checkpoint=<TF1 prefix, directory or project
      checkpoint> --image=photo.jpg [--output_npz=out.npz]
      [--output_png=out.png] [model flags] [--eval_crop_size=513,513]
      [--eval_scales=0.5 --eval_scales=1.0 ...] [--add_flipped_images]

With `--eval_crop_size` it follows the original's evaluation path exactly: the
image is padded bottom/right to the crop with the variant's mean pixel, run,
the logits upsampled (align corners) to the crop, arg-maxed and cropped back
to the image. Without it, the image itself is the crop.

The npz holds `logits` (merged logits of the unflipped scale-1.0 pass at the
model's output resolution, float32 [1, h, w, C]), `predictions` (int32
[H, W], the image's own size) and, with several scales or flips,
`probabilities` (float32 [1, Hc, Wc, C], the mean of the per-pass softmaxes
at crop resolution, as the original's multi-scale evaluation averages).

A project checkpoint (written by `deeplab.convert_checkpoint`) carries its
model options; flags given explicitly override them.
"""
import os
import sys

from absl import app
from absl import flags
import numpy as np
from PIL import Image

from deeplab import checkpoints
from deeplab import colormaps
from deeplab import common
from deeplab import model as model_lib
from deeplab.core import feature_extractor


def read_image(path):
  """RGB uint8 [H, W, 3] of an image file, naming the file on any error.

  Grayscale, palette, RGBA, CMYK and 16-bit images are converted to 8-bit RGB
  (alpha dropped).
  """
  if not os.path.exists(path):
    raise FileNotFoundError('Image %s does not exist.' % path)
  try:
    with Image.open(path) as img:
      img.load()
      if img.mode in ('I;16', 'I;16B', 'I;16L', 'I'):
        arr = np.asarray(img, dtype=np.float64)
        scale = 65535.0 if arr.max() > 255 else 255.0
        arr = np.clip(arr / scale * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.stack([arr] * 3, axis=-1)
      return np.asarray(img.convert('RGB'), dtype=np.uint8)
  except (OSError, SyntaxError, ValueError) as e:
    raise ValueError('Cannot read image %s: %s' % (path, e)) from e


def pad_to_crop(image, crop_size, model_variant):
  """Pads bottom/right to the crop with the variant's mean pixel (float32)."""
  h, w = image.shape[:2]
  if h > crop_size[0] or w > crop_size[1]:
    raise ValueError('Image of size %dx%d is larger than --eval_crop_size=%d,%d;'
                     ' the original evaluation pads, it never crops.'
                     % (h, w, crop_size[0], crop_size[1]))
  padded = np.empty(tuple(crop_size) + (3,), np.float32)
  padded[:] = feature_extractor.mean_pixel(model_variant)
  padded[:h, :w] = image
  return padded


def predict_image(image, options, checkpoint=None, model=None,
                  eval_scales=(1.0,), add_flipped_images=False,
                  fold_batch_norm=True, dilated_depthwise='auto'):
  """Runs the original's evaluation on one image.

  Args:
    image: uint8 [H, W, 3].
    options: `ModelOptions`; its crop size is the evaluation crop (None: the
      image size).
    checkpoint: Checkpoint to load (unless `model` is given).
    model: An inference model already built for `options` (with weights).
    fold_batch_norm: With `checkpoint`, run the BatchNorm-folded graph
      (`model.fold_batch_norm`; same outputs up to float rounding).
    dilated_depthwise: How the folded graph runs dilated depthwise convs.
    eval_scales: Input scales.
    add_flipped_images: Also run left-right flipped inputs.

  Returns:
    dict with 'logits', 'predictions' and, with several passes,
    'probabilities' (see the module docstring).
  """
  h, w = image.shape[:2]
  if options.crop_size is None:
    options = options.replace(crop_size=(h, w))
  padded = pad_to_crop(image, options.crop_size, options.model_variant)
  if model is None:
    model = model_lib.build_inference_model(options, eval_scales,
                                            add_flipped_images)
    model, _ = checkpoints.load_inference_model(
        model, checkpoint, fold_batch_norm=fold_batch_norm,
        dilated_depthwise=dilated_depthwise)
  out = model(padded[None], training=False)
  result = {
      'logits': out['logits'].numpy().astype(np.float32),
      'predictions': out['predictions'].numpy()[0, :h, :w].astype(np.int32),
  }
  if len(eval_scales) > 1 or add_flipped_images:
    result['probabilities'] = out['probabilities'].numpy().astype(np.float32)
  return result


def _write_atomically(path, write):
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  tmp = os.path.join(directory, '.%s.tmp' % os.path.basename(path))
  try:
    write(tmp)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def save_outputs(result, output_npz=None, output_png=None, colormap='pascal'):
  """Writes the npz and/or colour-mapped PNG (each atomically)."""
  if output_npz:
    def write_npz(tmp):
      with open(tmp, 'wb') as f:
        np.savez(f, **result)
    _write_atomically(output_npz, write_npz)
  if output_png:
    colored = colormaps.label_to_color_image(result['predictions'], colormap)
    _write_atomically(output_png, lambda tmp: Image.fromarray(colored).save(
        tmp, format='PNG'))


def define_flags():
  common.define_model_flags(output_stride_default=16)
  common.define_inference_flags()
  flags.DEFINE_string('checkpoint', None,
                      'TF1 checkpoint prefix, directory, or project checkpoint.')
  flags.DEFINE_string('image', None, 'Image file (PNG or JPEG).')
  flags.DEFINE_string('output_npz', None, 'Where to write logits/predictions.')
  flags.DEFINE_string('output_png', None, 'Where to write the coloured labels.')
  flags.DEFINE_integer('num_classes', 21, 'Number of classes.')
  flags.DEFINE_list('eval_crop_size', None,
                    'Crop [height, width] to pad the image to (the original '
                    'evaluation path); default: the image size.')
  flags.DEFINE_multi_float('eval_scales', [1.0],
                           'The scales to resize images for evaluation.')
  flags.DEFINE_bool('add_flipped_images', False,
                    'Add flipped images for evaluation or not.')
  flags.DEFINE_enum('colormap', 'pascal', sorted(colormaps.COLORMAPS),
                    'Colour map of --output_png.')
  flags.mark_flags_as_required(['checkpoint', 'image'])


def options_from_flags_and_checkpoint(fv, checkpoint, crop_size):
  """Flags, with a project checkpoint's saved options for unset flags.

  A training logdir (or an export) keeps `model_options.json`; model flags
  the user did not set take the values the model was trained with, so
  `eval.py --checkpoint_dir=<train_logdir>` needs no model flags.
  """
  num_classes = fv.num_classes if 'num_classes' in fv else None
  options = common.ModelOptions.from_flags(fv, num_classes=num_classes,
                                           crop_size=crop_size)
  saved = checkpoints.load_options(checkpoint)
  if saved is None:
    return options
  changes = {'crop_size': crop_size}
  for name in options.to_dict():
    if name in ('crop_size', 'outputs_to_num_classes'):
      continue
    if not (name in fv and fv[name].present):
      changes[name] = getattr(saved, name)
  if 'num_classes' not in fv or not fv['num_classes'].present:
    changes['outputs_to_num_classes'] = saved.outputs_to_num_classes
  return saved.replace(**changes)


def main(argv):
  del argv
  fv = flags.FLAGS
  try:
    crop = (common.parse_crop_size(fv.eval_crop_size, 'eval_crop_size')
            if fv.eval_crop_size else None)
    options = options_from_flags_and_checkpoint(fv, fv.checkpoint, crop)
    image = read_image(fv.image)
    result = predict_image(image, options, fv.checkpoint,
                           eval_scales=fv.eval_scales,
                           add_flipped_images=fv.add_flipped_images,
                           fold_batch_norm=fv.fold_batch_norm,
                           dilated_depthwise=fv.dilated_depthwise)
  except (ValueError, FileNotFoundError) as e:
    raise app.UsageError(str(e)) from e
  save_outputs(result, fv.output_npz, fv.output_png, fv.colormap)
  labels, counts = np.unique(result['predictions'], return_counts=True)
  print('%s: %dx%d, classes %s' % (
      fv.image, image.shape[0], image.shape[1],
      ', '.join('%d (%.1f%%)' % (l, 100.0 * c / result['predictions'].size)
                for l, c in zip(labels, counts))))
  for path in (fv.output_npz, fv.output_png):
    if path:
      print('wrote', path)


def run():
  """Console entry point (`deeplab-predict`)."""
  define_flags()
  app.run(main, argv=sys.argv)


if __name__ == '__main__':
  run()
