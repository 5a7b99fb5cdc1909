"""Converting a checkpoint to a name-keyed one (the original's variable
names): the `deeplab-convert-checkpoint` job.

An original TF1 checkpoint becomes this project's format; a training logdir
becomes a checkpoint that the original's `tf.train.Saver` and
`tf.train.init_from_checkpoint` read under its own variable names. The
checkpoint must fit the model exactly (every variable present, same shapes);
anything that does not fit is reported by name and nothing is written.
"""
from deeplab import checkpoints
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
