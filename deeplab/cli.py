"""The command-line jobs: flags in, one library call, a few lines out.

`train.py`, `eval.py`, `vis.py` and `export_model.py` (and the console entry
points `deeplab-train`, ...) run the functions here. Each command defines
its flag groups (`deeplab.flags`), builds its config and model options from
them, and calls the library. `--help` describes the command and lists its
own flags by group; a bad flag value or input ends with one line that names
it (and a pointer to `--help`), not a page of help.
"""
from absl import flags

from deeplab import command
from deeplab import export
from deeplab import flags as deeplab_flags
from deeplab import predict as predict_lib
from deeplab import visualize
from deeplab.evaluation import evaluator
from deeplab.training import trainer

FLAGS = flags.FLAGS
G = deeplab_flags.FlagGroup

# The runner shared with `deeplab.predict` (`deeplab.command`).
USER_ERRORS = command.USER_ERRORS
help_text = command.help_text
run_command = command.run_command


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
  deeplab_flags.apply_run_defaults(fv, fv.checkpoint_dir)
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
  deeplab_flags.apply_run_defaults(fv, fv.checkpoint_dir)
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
  deeplab_flags.apply_run_defaults(fv, fv.checkpoint_path)
  config = deeplab_flags.config_from_flags(export.ExportConfig, fv)
  options, _ = deeplab_flags.model_options(
      fv, crop_size=config.crop_size, checkpoint=config.checkpoint_path)
  return export.run(config, options)


def export_model(argv=None):
  """`export_model.py` / `deeplab-export`."""
  run_command(EXPORT_DOC, EXPORT_GROUPS, _export, argv)


def predict(argv=None):
  """`deeplab-predict` / `python -m deeplab.predict`."""
  predict_lib.main(argv)
