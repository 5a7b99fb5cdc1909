"""`deeplab-eval` / eval.py: evaluates checkpoints (the original's eval.py)."""
from deeplab import configs
from deeplab.cli import command
from deeplab.cli import flag_tables
from deeplab.cli import run_settings

DOC = '''Evaluates DeepLab checkpoints, the original's eval.py: mIoU and more.

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

GROUPS = flag_tables.inference_command_groups(
    'Evaluation', 'eval.py', flag_tables.EVAL_FLAGS,
    flag_tables.EVAL_EXTRA_FLAGS, configs.EvalConfig, 16,
    flag_tables.UNSUPPORTED_INFERENCE_FLAGS)


def job(fv):
  """Evaluates the checkpoints the flags name."""
  from deeplab.evaluation import evaluator  # pylint: disable=g-import-not-at-top
  evaluator.run(*run_settings.job_settings(
      fv, configs.EvalConfig, 'checkpoint_dir', 'eval_crop_size', lazy=True))


main = command.entry_point(DOC, GROUPS, job)
