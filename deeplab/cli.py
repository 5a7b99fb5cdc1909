"""The command-line jobs: flags in, one library call, a few lines out.

`train.py`, `eval.py`, `vis.py` and `export_model.py` (and the console entry
points `deeplab-train`, ...) run the functions here. Each command defines
its flag groups (`deeplab.flags`), builds its config and model options from
them, and calls the library. `--help` describes the command and lists its
own flags by group; a bad flag value or input ends with one line that names
it (and a pointer to `--help`), not a page of help.
"""
import contextlib
import logging as std_logging
import os
import re
import signal
import sys
import textwrap

from absl import app
from absl import flags
from absl import logging
import tensorflow as tf

from deeplab import checkpoints
from deeplab import export
from deeplab import files
from deeplab import flags as deeplab_flags
from deeplab import predict as predict_lib
from deeplab import visualize
from deeplab.data import data_generator
from deeplab.evaluation import evaluator
from deeplab.training import logdir_lock
from deeplab.training import trainer

FLAGS = flags.FLAGS
G = deeplab_flags.FlagGroup

# Errors that are the user's input, reported as one line.
USER_ERRORS = (ValueError, FileNotFoundError, FloatingPointError,
               checkpoints.CheckpointMismatchError, data_generator.DataError,
               logdir_lock.LogdirLockedError, files.WriteError)
_HELP_ARGS = ('--help', '-help', '-h', '-?', '--helpshort', '--help_short')


def _format_flag(flag):
  kind = flag.flag_type()
  name = ('--[no]' if kind == 'bool' else '--') + flag.name
  notes = []
  enum_values = getattr(flag.parser, 'enum_values', None)
  if enum_values:
    notes.append('one of: ' + ', '.join(enum_values))
  if kind == 'multi crop size':
    notes.append('"H,W", or the flag twice')
  elif kind.startswith('multi'):
    notes.append('repeat the flag for several values')
  elif kind == 'list':
    notes.append('comma separated')
  default = deeplab_flags.flatten(flag.default)
  if isinstance(default, (list, tuple)):
    default = ','.join(str(v) for v in default) if default else None
  elif isinstance(default, str):
    default = repr(default)
  notes.append('default: %s' % ('none' if default is None else default))
  # absl appends its own note to the help of multi flags.
  help_text = re.sub(r';\s*repeat this option to specify a list of values',
                     '', flag.help)
  body = textwrap.fill(help_text, 74, initial_indent='      ',
                       subsequent_indent='      ')
  return '  %s\n%s\n      (%s)' % (name, body, '; '.join(notes))


def help_text(prog, doc, groups, flag_values=None):
  """The command's description and its own flags, group by group."""
  fv = FLAGS if flag_values is None else flag_values
  lines = [doc.strip(), '']
  for group in groups:
    lines.append(group.title + ':')
    lines.extend(_format_flag(fv[name]) for name in group.specs)
    lines.append('')
  lines.append('%s also takes --flagfile=FILE (flags read from a file), '
               '-v/--verbosity, and --helpfull (every flag, TensorFlow\'s '
               'and absl\'s too).' % prog)
  return '\n'.join(lines)


def run_command(doc, groups, job, argv=None):
  """Defines the flags of `groups`, parses `argv` and runs `job(FLAGS)`.

  `job` returns the lines to print. User errors (`USER_ERRORS`) end the
  program with status 1 and one message line naming the flag, file or
  record.
  """
  argv = list(sys.argv if argv is None else argv)
  prog = os.path.basename(argv[0]) if argv else 'deeplab'
  deeplab_flags.define_groups(groups)
  if any(arg in _HELP_ARGS for arg in argv[1:]):
    print(help_text(prog, doc, groups))
    sys.exit(0)

  def main(args):
    if len(args) > 1:
      _fail(prog, 'unexpected arguments %s (flags are written --name=value).'
            % ' '.join(args[1:]))
    logging.set_verbosity(logging.INFO)
    # This project's progress at INFO; TensorFlow's own INFO lines (saver
    # sharding, asset writing) are noise here, its warnings stay.
    std_logging.getLogger('tensorflow').setLevel(std_logging.WARNING)
    try:
      with interrupt_on_sigterm():
        deeplab_flags.check_unsupported(groups, FLAGS)
        lines = job(FLAGS)
    except USER_ERRORS as e:
      _fail(prog, str(e))
    except OSError as e:
      _fail(prog, files.os_error_message(e))
    except tf.errors.OpError as e:
      os_error = files.as_os_error(e)
      if os_error is None:
        raise
      _fail(prog, files.os_error_message(os_error))
    except KeyboardInterrupt as e:
      sys.stderr.write('%s: %s\n' % (prog, str(e) or (
          'interrupted; every file it wrote is whole (written under a '
          'temporary name, then renamed).')))
      sys.exit(130)
    for line in lines or ():
      print(line, flush=True)

  app.run(main, argv=argv)


@contextlib.contextmanager
def interrupt_on_sigterm():
  """SIGTERM (a scheduler stopping the job) ends it as Ctrl-C does: with
  what was kept said, not mid-write."""
  try:
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
  except ValueError:  # Not the main thread: leave signals alone.
    yield
    return
  try:
    yield
  finally:
    signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum, frame):
  del signum, frame
  raise KeyboardInterrupt




def _fail(prog, message):
  sys.stderr.write('%s: error: %s\nRun "%s --help" for its flags.\n'
                   % (prog, message, prog))
  sys.exit(1)


def _inference_groups(job, script, original, beyond, config_cls,
                      output_stride, unsupported):
  """The flag groups of eval, vis and export: the script's own (the
  original's, then this project's), model, resizing, inference speed, and
  the original's unsupported ones."""
  return [G('%s (the original\'s %s)' % (job, script), original, config_cls),
          G('%s, beyond the original' % job, beyond, config_cls),
          deeplab_flags.model_group(output_stride),
          deeplab_flags.resize_group(config_cls),
          deeplab_flags.inference_group(config_cls),
          deeplab_flags.unsupported_group(dict(
              unsupported, **deeplab_flags.UNSUPPORTED_MODEL_FLAGS))]


TRAIN_DOC = '''Trains DeepLab: the original's train.py, on tf.distribute.

Example:
  python train.py --model_variant=xception_65 --atrous_rates=6 \\
    --atrous_rates=12 --atrous_rates=18 --output_stride=16 \\
    --decoder_output_stride=4 --train_crop_size=513,513 \\
    --train_batch_size=16 --training_number_of_steps=30000 \\
    --base_learning_rate=0.007 --dataset=pascal_voc_seg \\
    --train_split=train_aug --dataset_dir=/data/voc/tfrecord \\
    --tf_initial_checkpoint=/ckpt/xception_65/model.ckpt \\
    --train_logdir=/runs/voc'''
TRAIN_GROUPS = [
    G('Training (the original\'s train.py)', deeplab_flags.TRAIN_FLAGS,
      trainer.TrainConfig),
    G('Training, beyond the original', deeplab_flags.TRAIN_EXTRA_FLAGS,
      trainer.TrainConfig),
    deeplab_flags.model_group(output_stride=16),
    deeplab_flags.resize_group(trainer.TrainConfig),
    deeplab_flags.unsupported_group(dict(
        deeplab_flags.UNSUPPORTED_TRAIN_FLAGS,
        **deeplab_flags.UNSUPPORTED_MODEL_FLAGS)),
]


def _train(fv):
  config = deeplab_flags.config_from_flags(trainer.TrainConfig, fv)
  # A run being resumed keeps its saved options: flags left out take them.
  resumed = trainer.has_checkpoints(config.train_logdir)
  options, _ = deeplab_flags.model_options(
      fv, crop_size=config.train_crop_size,
      checkpoint=config.train_logdir if resumed else None)
  result = trainer.train(config, options)
  if result['loss'] is None:
    return ['Nothing to train: %s is at step %d and '
            '--training_number_of_steps=%d; checkpoint %s' % (
                config.train_logdir, result['global_step'],
                config.training_number_of_steps, result['checkpoint'])]
  return ['Trained to step %d; last loss %.4f; checkpoint %s' % (
      result['global_step'], result['loss'], result['checkpoint'])]


def train(argv=None):
  """`train.py` / `deeplab-train`."""
  run_command(TRAIN_DOC, TRAIN_GROUPS, _train, argv)


EVAL_DOC = '''Evaluates DeepLab checkpoints, the original's eval.py: mIoU and more.

Polls --checkpoint_dir for new checkpoints (--max_number_of_evaluations=1
evaluates the latest once). Model flags you set win over the options saved
beside the checkpoint (model_options.json of a training logdir); unset ones
take the saved values.

Example:
  python eval.py --checkpoint_dir=/runs/voc --eval_logdir=/runs/voc/eval \\
    --dataset=pascal_voc_seg --eval_split=val \\
    --dataset_dir=/data/voc/tfrecord \\
    --output_stride=8 --atrous_rates=12 --atrous_rates=24 --atrous_rates=36 \\
    --eval_scales=0.5 --eval_scales=0.75 --eval_scales=1.0 \\
    --eval_scales=1.25 --eval_scales=1.5 --eval_scales=1.75 \\
    --add_flipped_images --max_number_of_evaluations=1'''
EVAL_GROUPS = _inference_groups(
    'Evaluation', 'eval.py', deeplab_flags.EVAL_FLAGS,
    deeplab_flags.EVAL_EXTRA_FLAGS, evaluator.EvalConfig, 16,
    deeplab_flags.UNSUPPORTED_INFERENCE_FLAGS)


def _lazy_options(fv, crop_size, checkpoint):
  """The run's model options, resolved when the first checkpoint is there:
  beside a training job, its model_options.json appears only then."""
  return lambda: deeplab_flags.model_options(
      fv, crop_size=crop_size, checkpoint=checkpoint)[0]


def _evaluate(fv):
  config = deeplab_flags.config_from_flags(evaluator.EvalConfig, fv)
  evaluator.run(config, _lazy_options(fv, config.eval_crop_size,
                                      config.checkpoint_dir))


def evaluate(argv=None):
  """`eval.py` / `deeplab-eval`."""
  run_command(EVAL_DOC, EVAL_GROUPS, _evaluate, argv)


VIS_DOC = '''Visualises DeepLab predictions (the original's vis.py).

One iteration is one pass over the whole split with the latest checkpoint;
the folder is polled for new checkpoints --max_number_of_iterations times
(forever when it is not positive). Writes segmentation_results/ and, with
--also_save_raw_predictions, raw_segmentation_results/ under --vis_logdir.

Examples:
  python vis.py --checkpoint_dir=/runs/voc --vis_logdir=/runs/voc/vis \\
    --dataset=pascal_voc_seg --vis_split=val --dataset_dir=/data/voc/tfrecord
  python vis.py --checkpoint_dir=/runs/voc --vis_logdir=/tmp/vis \\
    --image_path=/photos        # plain images, no TFRecords'''
VIS_GROUPS = _inference_groups(
    'Visualization', 'vis.py', deeplab_flags.VIS_FLAGS,
    deeplab_flags.VIS_EXTRA_FLAGS, visualize.VisConfig, 16,
    deeplab_flags.UNSUPPORTED_INFERENCE_FLAGS)


def _visualize(fv):
  config = deeplab_flags.config_from_flags(visualize.VisConfig, fv)
  count = visualize.run(config, _lazy_options(fv, config.vis_crop_size,
                                              config.checkpoint_dir))
  return ['Wrote %d visualisation%s to %s' % (count, '' if count == 1 else 's',
                                              config.vis_logdir)]


def vis(argv=None):
  """`vis.py` / `deeplab-vis`."""
  run_command(VIS_DOC, VIS_GROUPS, _visualize, argv)


EXPORT_DOC = '''Exports a trained DeepLab for serving (the original's
export_model.py).

--export_path=<folder>: a SavedModel (serving_default: ImageTensor uint8
[batch, H, W, 3] -> SemanticPredictions; serving_probabilities: also
SemanticProbabilities), optionally TFLite files. --export_path=<file>.pb: the original's frozen inference graph
(ImageTensor:0 -> SemanticPredictions:0), loadable with
tf.compat.v1.import_graph_def.

Example:
  python export_model.py --checkpoint_path=/runs/voc \\
    --export_path=/export/voc/frozen_inference_graph.pb \\
    --model_variant=xception_65 --atrous_rates=6 --atrous_rates=12 \\
    --atrous_rates=18 --output_stride=16 --decoder_output_stride=4 \\
    --num_classes=21 --crop_size=513 --crop_size=513 --inference_scales=1.0'''
# The original exports at output stride 8 by default.
EXPORT_GROUPS = _inference_groups(
    'Export', 'export_model.py', deeplab_flags.EXPORT_FLAGS,
    deeplab_flags.EXPORT_EXTRA_FLAGS, export.ExportConfig, 8,
    {})


def _export(fv):
  config = deeplab_flags.config_from_flags(export.ExportConfig, fv)
  options, _ = deeplab_flags.model_options(
      fv, crop_size=config.crop_size, checkpoint=config.checkpoint_path)
  return export.run(config, options)


def export_model(argv=None):
  """`export_model.py` / `deeplab-export`."""
  run_command(EXPORT_DOC, EXPORT_GROUPS, _export, argv)


PREDICT_GROUPS = [
    G('Prediction', deeplab_flags.PREDICT_FLAGS, predict_lib.PredictConfig),
    deeplab_flags.model_group(output_stride=16),
    deeplab_flags.inference_group(predict_lib.PredictConfig),
]


def _predict(fv):
  config = deeplab_flags.config_from_flags(predict_lib.PredictConfig, fv)
  options, _ = deeplab_flags.model_options(
      fv, crop_size=config.eval_crop_size, checkpoint=config.checkpoint)
  return predict_lib.run(config, options)


def predict(argv=None):
  """`deeplab-predict` / `python -m deeplab.predict`."""
  run_command(predict_lib.__doc__, PREDICT_GROUPS, _predict, argv)
