"""Choosing the tf.distribute strategy (the original's `num_clones` et al.)."""
import json
import os

import tensorflow as tf
from absl import logging

from deeplab import configs


def _tf_config_workers():
  try:
    config = json.loads(os.environ.get('TF_CONFIG', '') or '{}')
  except ValueError as e:
    raise ValueError('TF_CONFIG is not valid JSON: %s' % e) from e
  cluster = config.get('cluster', {})
  return len(cluster.get('worker', [])) + len(cluster.get('chief', []))


def get_strategy(name='auto', num_clones=1, tpu=None, collective='auto'):
  """The strategy named by `--distribution_strategy`.

  Args:
    name: One of `configs.STRATEGIES`. 'auto': MultiWorkerMirrored when
      TF_CONFIG names several workers, Mirrored when `num_clones` > 1, else the
      default (single device) strategy.
    num_clones: Replicas on this machine (the original's flag): the first
      `num_clones` GPUs, or CPU replicas when there are no GPUs.
    tpu: TPU name or address for 'tpu'.
    collective: Multi-worker communication: 'auto', 'ring' or 'nccl'.

  Returns:
    A `tf.distribute.Strategy`.
  """
  if name not in configs.STRATEGIES:
    raise ValueError('--distribution_strategy must be one of %s, got %r.'
                     % (', '.join(configs.STRATEGIES), name))
  if num_clones < 1:
    raise ValueError('--num_clones must be at least 1, got %d.' % num_clones)
  if name == 'auto':
    if _tf_config_workers() > 1:
      name = 'multi_worker'
    elif num_clones > 1:
      name = 'mirrored'
    else:
      name = 'default'
  if name == 'default':
    return tf.distribute.get_strategy()
  if name == 'one_device':
    gpus = tf.config.list_logical_devices('GPU')
    return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else '/cpu:0')
  if name == 'mirrored':
    return tf.distribute.MirroredStrategy(_local_devices(num_clones))
  if name == 'multi_worker':
    if not os.environ.get('TF_CONFIG'):
      raise ValueError('--distribution_strategy=multi_worker needs the '
                       'TF_CONFIG environment variable (cluster and task).')
    implementation = {
        'auto': tf.distribute.experimental.CommunicationImplementation.AUTO,
        'ring': tf.distribute.experimental.CommunicationImplementation.RING,
        'nccl': tf.distribute.experimental.CommunicationImplementation.NCCL,
    }[collective]
    return tf.distribute.MultiWorkerMirroredStrategy(
        communication_options=tf.distribute.experimental.CommunicationOptions(
            implementation=implementation))
  resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or '')
  tf.config.experimental_connect_to_cluster(resolver)
  tf.tpu.experimental.initialize_tpu_system(resolver)
  return tf.distribute.TPUStrategy(resolver)


def _local_devices(num_clones):
  gpus = tf.config.list_logical_devices('GPU')
  if gpus:
    if num_clones > len(gpus):
      raise ValueError('--num_clones=%d but only %d GPUs are visible.'
                       % (num_clones, len(gpus)))
    return [d.name for d in gpus[:num_clones]]
  cpus = tf.config.list_logical_devices('CPU')
  if num_clones > len(cpus):
    logging.warning('--num_clones=%d on CPU: splitting the CPU into logical '
                    'devices only works before TensorFlow starts; using %d.',
                    num_clones, len(cpus))
  return [d.name for d in cpus[:num_clones]]


def is_chief(strategy):
  """Whether this task writes checkpoints and summaries."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  if resolver is None or not resolver.cluster_spec().as_dict():
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  return task_type == 'chief' or (
      task_type == 'worker' and task_id == 0 and
      'chief' not in resolver.cluster_spec().as_dict())
