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
from deeplab.cli import command
from deeplab.cli import flag_tables
from deeplab.cli import flags as flag_lib
from deeplab.cli import run_settings

_FLAGS = {
    'checkpoint': ('string', 'Checkpoint prefix or folder: an original TF1 '
                   'checkpoint, or a training logdir of ours.'),
    'output': ('string', 'Output directory.'),
    'num_classes': ('integer', 'Number of classes (default: the saved '
                    'options\', else 21).', dict(default=21)),
}


def job(fv):
  """Converts the checkpoint the flags name; the lines to print."""
  from deeplab import convert_checkpoint  # pylint: disable=g-import-not-at-top
  if not fv.checkpoint or not fv.output:
    raise ValueError('--checkpoint and --output are required.')
  options, _ = run_settings.model_options(fv, checkpoint=fv.checkpoint)
  prefix, report = convert_checkpoint.convert(fv.checkpoint, options,
                                              fv.output)
  return [report.summary(), 'wrote %s' % prefix]


GROUPS = [flag_lib.FlagGroup('Conversion', _FLAGS),
          flag_tables.model_group(output_stride=16)]


main = command.entry_point(__doc__, GROUPS, job)
