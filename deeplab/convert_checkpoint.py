r"""Converts a checkpoint to a name-keyed one (the original's variable names).

  deeplab-convert-checkpoint --checkpoint=<TF1 prefix or dir> \
      --model_variant=xception_65 --atrous_rates=6 --atrous_rates=12 \
      --atrous_rates=18 --output_stride=16 --decoder_output_stride=4 \
      --num_classes=21 --output=<dir>
  deeplab-convert-checkpoint --checkpoint=<train_logdir> --output=<dir>

An original TF1 checkpoint becomes this project's format; a training logdir
of train.py (whose model_options.json gives the model flags, so none are
needed) becomes a checkpoint that the original's `tf.train.Saver` and
`tf.train.init_from_checkpoint` read under its own variable names.

The checkpoint must fit the model built from the flags exactly (every
variable present, same shapes); anything that does not fit is reported by
name and nothing is written. The output directory receives `model.ckpt`
(keys: the original variable names) and `model_options.json`, which
`deeplab.predict` and the other scripts read.
"""
from deeplab import checkpoints
from deeplab import flags as deeplab_flags
from deeplab import model as model_lib


def convert(checkpoint, options, output_dir):
  """Loads `checkpoint` strictly into a model of `options` and saves it.

  Returns:
    (saved prefix, LoadReport).
  """
  model = model_lib.build_model(options.replace(crop_size=None))
  report = checkpoints.load_weights(model, checkpoint)
  prefix = checkpoints.save_weights(model, output_dir, options)
  return prefix, report


_FLAGS = {
    'checkpoint': ('string', 'Checkpoint prefix or folder: an original TF1 '
                   'checkpoint, or a training logdir of ours.'),
    'output': ('string', 'Output directory.'),
    'num_classes': ('integer', 'Number of classes (default: the saved '
                    'options\', else 21).', dict(default=21)),
}


def _job(fv):
  if not fv.checkpoint or not fv.output:
    raise ValueError('--checkpoint and --output are required.')
  options, _ = deeplab_flags.model_options(fv, checkpoint=fv.checkpoint)
  prefix, report = convert(fv.checkpoint, options, fv.output)
  return [report.summary(), 'wrote %s' % prefix]


def run(argv=None):
  """Console entry point (`deeplab-convert-checkpoint`)."""
  from deeplab import command  # pylint: disable=g-import-not-at-top
  command.run_command(__doc__, [
      deeplab_flags.FlagGroup('Conversion', _FLAGS),
      deeplab_flags.model_group(output_stride=16)], _job, argv)


if __name__ == '__main__':
  run()
