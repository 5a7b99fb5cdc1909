"""The quickstart's plumbing on a tiny run (the full run is in the README)."""
import json
import os

from deeplab import quickstart
from deeplab.evaluation import evaluator


def test_quickstart_writes_every_result(tmp_path):
  lines = []
  out = quickstart.run_quickstart(
      str(tmp_path), num_train=8, num_val=4, training_number_of_steps=4,
      train_batch_size=4, log=lines.append)
  assert len(lines) == 6 and lines[0].startswith('[1/6]')
  paths = out['paths']
  for path in paths.values():
    assert os.path.exists(path), path
  metrics = json.load(open(paths['metrics']))
  assert metrics['global_step'] == 4 and metrics['num_images'] == 4
  assert 0.0 <= out['miou'] <= 1.0
  assert 0.0 < out['background_only_miou'] < 1.0
  assert os.path.exists(os.path.join(paths['SavedModel'], 'saved_model.pb'))
  assert len(os.listdir(paths['visualisations'])) == 12  # 4 x image/pred/overlay

  # bfloat16 inference on the trained model's val split: mIoU within 0.1
  # point of float32 (eval.py's path, --inference_precision=bfloat16).
  config = evaluator.EvalConfig(
      checkpoint_dir=paths['checkpoints + TensorBoard'],
      eval_logdir=str(tmp_path / 'eval_bf16'), dataset='synthetic_shapes',
      dataset_dir=paths['TFRecords'], eval_crop_size=quickstart.EVAL_CROP,
      max_number_of_evaluations=1, inference_precision='bfloat16')
  bf16 = evaluator.run(config, out['options'])[0]
  assert out['miou'] > 0
  assert abs(bf16['miou'] - out['miou']) <= 1e-3, (bf16['miou'], out['miou'])
