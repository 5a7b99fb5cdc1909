r"""Inference latency of DeepLab at 513x513, batch 1, against the FLOP floor.

  python benchmarks/inference.py [--model_variant=xception_65|mobilenet_v2]
      [--precisions=float32,bfloat16] [--threads=both|1|default]
      [--runs=9] [--noserving] [--noonnx] [--noonnx_int8] [--noopenvino]
      [--tflite] [--json]

Models: Xception-65 DeepLabv3+ (OS16, ASPP 6/12/18, decoder) or MobileNetV2
DeepLabv3 (OS16, the model zoo's head); 2 x their Multiply-Adds (paper
convention, `deeplab.model_stats`) is the work W (108.1 and 5.48 GFLOP).

For each thread setting (one core, pinned, one thread; TensorFlow's default
threads) a fresh process measures in one run, interleaved so that a slow
spell of a shared machine hits every figure alike:
  * the fp32 matmul rate (2048x2048, median) -> fp32 floor = W / rate; with
    bfloat16 asked for, the bf16 matmul rate -> bf16 floor;
  * the median latency (tf.function, XLA off) of the same weights as
      - optimized: the BatchNorm-folded graph (`core/folding.py`), float32;
      - optimized_bf16: the same in bfloat16 (`--inference_precision`);
      - optimized_full_argmax: the same with the argmax taken of the fully
        upsampled logits (without `ops.upsampled_argmax`);
      - plain: the Keras graph as trained;
      - savedmodel: the exported SavedModel's serving_default, loaded
        (uint8 image in, labels out: padding, cropping, resizing inside);
      - frozen_graph: the original's frozen_inference_graph.pb, imported;
      - onnxruntime: the .onnx export (same contract as the SavedModel) on
        ONNX Runtime's CPU execution provider with the same threads;
      - onnxruntime_int8 (--onnx_int8, on): its int8 quantization
        (`export_model.py --onnx_quantize=int8`) calibrated on 4 random
        images;
      - openvino_f32 and openvino_bf16_hint (--openvino, on): the OpenVINO
        export (`--export_path=model.xml`, same contract) compiled by
        OpenVINO's CPU plugin with INFERENCE_PRECISION_HINT f32, and bf16
        (only on CPUs with bfloat16 units), the same threads;
      - with --tflite, tflite_float32 and tflite_int8: the TFLite models of
        export_model.py --tflite --tflite_quantize=int8 (int8 calibrated on
        4 random images), run by LiteRT (ai-edge-litert) with XNNPACK and as
        many threads as TensorFlow;
  * ratios to the floors, label agreement with the optimized float32 graph,
    and the process's peak memory.
The head alone (upsample + argmax) is also timed, full vs
`ops.upsampled_argmax`, on the model's logits and on synthetic scene and
noise logits: the random-weight model predicts nearly one class, the
shortcut's best case, so the scene's figure is what a trained model adds.
Each graph is reported twice: median latency against the floor of the
median matmul rate, and best latency against the floor of the best matmul
rate. On a shared VM, interference only ever adds time, and single runs of
the same graph were seen to spread by 30%; the best-of-N pair is the stable
figure for comparing graphs (e.g. SavedModel vs in-process), the median the
typical one. Both ratios are also given against the optimized graph.
With --json every graph also prints one JSON object per line (keys
model_variant, graph, precision, threads, median_s, fp32_floor_s,
ratio_to_fp32_floor, and bf16_floor_s / ratio_to_bf16_floor for bf16).

The CPU's low-precision features (amx_bf16, avx512_bf16, amx_int8) are
printed: without them bfloat16 runs through conversions and is slower than
float32, not faster.
"""
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

flags.DEFINE_integer('runs', 9, 'Timed runs per graph (median reported).')
flags.DEFINE_integer('crop', 513, 'Square input size.')
flags.DEFINE_enum('model_variant', 'xception_65',
                  ['xception_65', 'mobilenet_v2'], 'The model.')
flags.DEFINE_list('precisions', ['float32', 'bfloat16'],
                  'Precisions of the optimized graph to time.')
flags.DEFINE_integer('inter_op_threads', 0,
                     'With all cores: TensorFlow\'s inter-op threads (0: '
                     'its default, one per core).')
flags.DEFINE_enum('threads', 'both', ['both', '1', 'default'],
                  'Thread settings to measure.')
flags.DEFINE_boolean('serving', True, 'Also time the exported SavedModel and '
                     'frozen graph.')
flags.DEFINE_boolean('json', False, 'Also print one JSON object per graph.')
flags.DEFINE_boolean('onnx', True, 'Also time the ONNX export on ONNX Runtime '
                     '(CPU execution provider, the same threads); needs the '
                     'onnx extra.')
flags.DEFINE_boolean('onnx_int8', True, 'With --onnx, also time the int8 '
                     'ONNX model (--onnx_quantize=int8).')
flags.DEFINE_boolean('openvino', True, 'Also time the OpenVINO export '
                     '(--export_path=model.xml) on OpenVINO\'s CPU plugin, '
                     'float32 and with its bfloat16 precision hint, the same '
                     'threads; needs the openvino extra.')
flags.DEFINE_boolean('tflite', False, 'Also time the float32 and int8 TFLite '
                     'models.')
flags.DEFINE_enum('dilated_depthwise', 'auto',
                  ['auto', 'native', 'space_to_batch', 'padded'],
                  'How the optimized graph runs dilated depthwise convs.')
flags.DEFINE_string('_child', None, 'Internal: run one configuration.')
FLAGS = flags.FLAGS

LOW_PRECISION_FEATURES = ('amx_bf16', 'avx512_bf16', 'amx_int8',
                          'avx512_vnni')


def cpu_features():
  """The CPU model and which low-precision units its flags list."""
  model, flags_line = 'unknown', ''
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('model name') and model == 'unknown':
          model = line.split(':', 1)[1].strip()
        if line.startswith('flags') and not flags_line:
          flags_line = line.split(':', 1)[1]
  except OSError:
    pass
  present = set(flags_line.split())
  return model, {name: name in present for name in LOW_PRECISION_FEATURES}


def model_options():
  from deeplab import common  # pylint: disable=g-import-not-at-top
  crop = (FLAGS.crop, FLAGS.crop)
  if FLAGS.model_variant == 'xception_65':
    return common.ModelOptions(
        model_variant='xception_65', crop_size=crop, output_stride=16,
        atrous_rates=(6, 12, 18), decoder_output_stride=(4,))
  return common.ModelOptions(model_variant='mobilenet_v2', crop_size=crop,
                             output_stride=16)


def trained_like_checkpoint(options, rng, workdir):
  """A checkpoint of `options` with random weights whose moving statistics
  are moved away from 0/1 as in a trained model (so that folding has real
  work); returns its prefix."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from deeplab import checkpoints  # pylint: disable=g-import-not-at-top
  from deeplab import runtime  # pylint: disable=g-import-not-at-top
  plain = runtime.build_graph(options)
  for var in plain.weights:
    value = rng.uniform(0.5, 1.5, var.shape) if 'variance' in var.path else (
        rng.normal(0, 0.05, var.shape) if 'moving_mean' in var.path
        else var.numpy())
    var.assign(value.astype(np.float32))
  return checkpoints.save_weights(plain, os.path.join(workdir, 'ckpt'),
                                  options)


def load(options, checkpoint, **inference):
  """The graph that runs `inference` (`common.InferenceOptions` fields) with
  `checkpoint`'s weights, as every script builds it (`runtime.load`)."""
  from deeplab import common  # pylint: disable=g-import-not-at-top
  from deeplab import runtime  # pylint: disable=g-import-not-at-top
  return runtime.load(options, checkpoint,
                      common.InferenceOptions(**inference))[0]


def matmul_rate_meter(precisions, n=2048):
  """A function precision -> GFLOP/s of one n x n matmul, timed now."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  operands = {p: (tf.cast(tf.random.normal([n, n]), p),
                  tf.cast(tf.random.normal([n, n]), p)) for p in precisions}
  matmul = tf.function(lambda x, y: tf.matmul(x, y))

  def rate(precision):
    a, b = operands[precision]
    start = time.perf_counter()
    matmul(a, b).numpy()
    return 2 * n ** 3 / (time.perf_counter() - start) / 1e9

  return rate


def _cpu_ticks():
  """(steal, total) jiffies of all CPUs from /proc/stat, or None."""
  try:
    with open('/proc/stat') as f:
      fields = [int(v) for v in f.readline().split()[1:]]
  except (OSError, ValueError):
    return None
  return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def run_child(script, threads, args):
  """Runs `script --_child=threads args` in a fresh process (threads set
  before TensorFlow starts); returns the results it printed and the share
  of CPU time the hypervisor stole meanwhile (None where unknown). On a
  shared VM that is one source of noise; slow spells with no steal (shared
  caches, memory bandwidth, clocks) were seen too."""
  cmd = [sys.executable, os.path.abspath(script), '--_child=' + threads]
  before = _cpu_ticks()
  out = subprocess.run(cmd + list(args), capture_output=True, text=True,
                       check=True,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')).stdout
  after = _cpu_ticks()
  steal = None
  if before and after and after[1] > before[1]:
    steal = (after[0] - before[0]) / (after[1] - before[1])
  return json.loads([l for l in out.splitlines()
                     if l.startswith('RESULT ')][-1][len('RESULT '):]), steal


def _serving_graphs(checkpoint, options, workdir):
  """The SavedModel and frozen-graph functions of `checkpoint`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from deeplab import common  # pylint: disable=g-import-not-at-top
  from deeplab import export  # pylint: disable=g-import-not-at-top
  module = export.DeepLabServing(
      options, checkpoint, crop_size=options.crop_size,
      inference_options=common.InferenceOptions(
          dilated_depthwise=FLAGS.dilated_depthwise))
  export.export_saved_model(module, os.path.join(workdir, 'savedmodel'))
  serving = tf.saved_model.load(os.path.join(workdir, 'savedmodel'))
  signature = serving.signatures['serving_default']
  graph_def = module.frozen_graph_def()
  wrapped = tf.compat.v1.wrap_function(
      lambda: tf.compat.v1.import_graph_def(graph_def, name=''), [])
  frozen = wrapped.prune(
      wrapped.graph.get_tensor_by_name(export.INPUT_NAME + ':0'),
      wrapped.graph.get_tensor_by_name(export.OUTPUT_NAME + ':0'))
  return {
      'savedmodel': (lambda x: signature(ImageTensor=x)[export.OUTPUT_NAME],
                     serving),
      'frozen_graph': (frozen, wrapped),
  }


def _onnx_graph(checkpoint, options, workdir, threads):
  """ONNX Runtime running the .onnx export of `checkpoint` (uint8 image in,
  labels out, as the SavedModel)."""
  from deeplab import export  # pylint: disable=g-import-not-at-top
  module = _portable_module(checkpoint, options)
  path = export.export_onnx(module, os.path.join(workdir, 'model.onnx'))
  graphs = {'onnxruntime': path}
  if FLAGS.onnx_int8:
    import numpy as np  # pylint: disable=g-import-not-at-top
    calibration = np.random.RandomState(1).randint(
        0, 256, (4,) + options.crop_size + (3,)).astype(np.uint8)
    graphs['onnxruntime_int8'] = export.quantize_onnx(
        path, export.int8_onnx_path(path), list(calibration))
  out = {}
  for name, model_path in graphs.items():
    session = export.onnx_session(model_path,
                                  1 if threads == '1' else os.cpu_count())
    out[name] = functools.partial(_run_session, session)
  return out


def _portable_module(checkpoint, options):
  """The serving module the ONNX and OpenVINO exports convert
  (`export_model.py` builds it so)."""
  from deeplab import common  # pylint: disable=g-import-not-at-top
  from deeplab import export  # pylint: disable=g-import-not-at-top
  return export.DeepLabServing(
      options, checkpoint, crop_size=options.crop_size,
      inference_options=common.InferenceOptions(
          dilated_depthwise='padded', argmax_shortcut=False))


def _openvino_graphs(checkpoint, options, workdir, threads):
  """OpenVINO running the .xml export of `checkpoint` (uint8 image in,
  labels out, as the SavedModel), float32 and with the bf16 hint."""
  from deeplab import export  # pylint: disable=g-import-not-at-top
  path = export.export_openvino(_portable_module(checkpoint, options),
                                os.path.join(workdir, 'model.xml'))
  count = 1 if threads == '1' else os.cpu_count()
  precisions = [('f32', 'f32')]
  if has_bf16_units():
    precisions.append(('bf16_hint', 'bf16'))
  return {'openvino_%s' % name: functools.partial(
      _run_openvino, export.compiled_model(path, precision, count))
          for name, precision in precisions}


def has_bf16_units():
  """Whether this CPU has bfloat16 units (amx_bf16 or avx512_bf16)."""
  features = cpu_features()[1]
  return features['amx_bf16'] or features['avx512_bf16']


def _run_openvino(compiled, image):
  from deeplab import export  # pylint: disable=g-import-not-at-top
  return compiled(image)[export.OUTPUT_NAME]


def _run_session(session, image):
  from deeplab import export  # pylint: disable=g-import-not-at-top
  return session.run([export.OUTPUT_NAME], {export.INPUT_NAME: image})[0]


def _tflite_graphs(plain, calibration, threads):
  """Functions running the float32 and int8 TFLite models of `plain`."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from deeplab import export  # pylint: disable=g-import-not-at-top
  from deeplab.export import tflite  # pylint: disable=g-import-not-at-top
  graphs = {}
  for name, quantize in (('tflite_float32', None), ('tflite_int8', 'int8')):
    interpreter = tflite.new_interpreter(
        export.convert_tflite(plain, quantize, calibration),
        num_threads=1 if threads == '1' else os.cpu_count())
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]['index']
    labels = next(d['index'] for d in interpreter.get_output_details()
                  if d['dtype'] == np.int32)

    def run(image, interpreter=interpreter, source=source, labels=labels):
      interpreter.set_tensor(source, image)
      interpreter.invoke()
      return interpreter.get_tensor(labels)

    graphs[name] = run
  return graphs


def configure_threads(threads):
  """For '1': this process pinned to one core, TensorFlow on one thread
  (before it starts); 'default' leaves both alone (but for
  --inter_op_threads). Returns tensorflow."""
  if threads == '1':
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if threads == '1':
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
  elif FLAGS.inter_op_threads:
    tf.config.threading.set_inter_op_parallelism_threads(
        FLAGS.inter_op_threads)
  return tf


def _measure(threads):
  """Runs in the child: floors and every graph's latency, interleaved."""
  tf = configure_threads(threads)
  import numpy as np  # pylint: disable=g-import-not-at-top
  from deeplab import model_stats  # pylint: disable=g-import-not-at-top

  options = model_options()
  work = 2 * model_stats.model_statistics(options)[
      'multiply_adds_convolutions'] / 1e9
  matmul_rate = matmul_rate_meter(('float32', 'bfloat16'))
  rng = np.random.RandomState(0)
  workdir = tempfile.mkdtemp()
  checkpoint = trained_like_checkpoint(options, rng, workdir)
  plain = load(options, checkpoint, fold_batch_norm=False)
  graphs, keep = {}, []
  for precision in FLAGS.precisions:
    folded = load(options, checkpoint, inference_precision=precision,
                  dilated_depthwise=FLAGS.dilated_depthwise)
    name = 'optimized' if precision == 'float32' else 'optimized_bf16'
    graphs[name] = tf.function(
        lambda x, m=folded: m(x, training=False)['predictions'],
        jit_compile=False)
    if precision == 'float32':
      # The same graph with the argmax of fully upsampled logits, to show
      # what `ops.upsampled_argmax` saves at this prediction.
      full = load(options, checkpoint, argmax_shortcut=False,
                  dilated_depthwise=FLAGS.dilated_depthwise)
      graphs['optimized_full_argmax'] = tf.function(
          lambda x, m=full: m(x, training=False)['predictions'],
          jit_compile=False)
  graphs['plain'] = tf.function(
      lambda x: plain(x, training=False)['predictions'], jit_compile=False)
  image8 = rng.randint(0, 256, (1,) + options.crop_size + (3,)).astype(
      np.uint8)
  inputs = {name: tf.constant(image8.astype(np.float32)) for name in graphs}
  if FLAGS.serving:
    for name, (fn, owner) in _serving_graphs(checkpoint, options,
                                             workdir).items():
      graphs[name] = fn
      keep.append(owner)
      inputs[name] = tf.constant(image8)
  if FLAGS.onnx:
    for name, fn in _onnx_graph(checkpoint, options, workdir,
                                threads).items():
      graphs[name] = fn
      inputs[name] = image8
  if FLAGS.openvino:
    for name, fn in _openvino_graphs(checkpoint, options, workdir,
                                     threads).items():
      graphs[name] = fn
      inputs[name] = image8
  if FLAGS.tflite:
    calibration = rng.uniform(0, 255, (4,) + options.crop_size + (3,))
    for name, fn in _tflite_graphs(plain, calibration, threads).items():
      graphs[name] = fn
      inputs[name] = image8.astype(np.float32)
  predictions = {name: np.asarray(g(inputs[name])).reshape(options.crop_size)
                 for name, g in graphs.items()}
  floors = ['float32'] + (['bfloat16'] if 'bfloat16' in FLAGS.precisions
                          else [])
  for _ in range(2):  # Warm-up: oneDNN primitives, allocator, caches.
    for precision in floors:
      matmul_rate(precision)
    for name, g in graphs.items():
      np.asarray(g(inputs[name]))
  rates = {p: [] for p in floors}
  times = {name: [] for name in graphs}
  for _ in range(FLAGS.runs):
    for name, g in graphs.items():
      for precision in floors:
        rates[precision].append(matmul_rate(precision))
      start = time.perf_counter()
      np.asarray(g(inputs[name]))
      times[name].append(time.perf_counter() - start)
  head = _head_costs(plain(inputs['plain'], training=False)['logits'],
                     options.crop_size)
  rate = {p: float(np.median(r)) for p, r in rates.items()}
  best_rate = {p: float(np.max(r)) for p, r in rates.items()}
  reference = predictions.get('optimized', predictions['plain'])
  baseline = times.get('optimized', times['plain'])
  results = []
  for name, samples in times.items():
    median, best = float(np.median(samples)), float(np.min(samples))
    entry = {
        'model_variant': options.model_variant, 'graph': name,
        'precision': ('bfloat16' if name.endswith('bf16') else
                      'int8' if name.endswith('int8') else
                      'bf16_hint' if name.endswith('bf16_hint') else
                      'float32'),
        'threads': 1 if threads == '1' else 'default', 'median_s': median,
        'best_s': best, 'gflop': work,
        'fp32_matmul_gflops': rate['float32'],
        'fp32_floor_s': work / rate['float32'],
        'ratio_to_fp32_floor': median / (work / rate['float32']),
        'fp32_best_matmul_gflops': best_rate['float32'],
        'best_ratio_to_fp32_floor': best / (work / best_rate['float32']),
        'vs_optimized_median': median / float(np.median(baseline)) - 1,
        'vs_optimized_best': best / float(np.min(baseline)) - 1,
        'label_agreement': float((predictions[name] == reference).mean()),
    }
    if 'bfloat16' in rate:
      entry.update(bf16_matmul_gflops=rate['bfloat16'],
                   bf16_floor_s=work / rate['bfloat16'],
                   ratio_to_bf16_floor=median / (work / rate['bfloat16']),
                   best_ratio_to_bf16_floor=best / (
                       work / best_rate['bfloat16']))
    results.append(entry)
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  for entry in results:
    entry['peak_rss_mb'] = peak
  results.append(head)
  return results


def boundary_share(logits):
  """Share of low-resolution cells whose four corners' argmaxes differ
  (the cells `ops.upsampled_argmax` interpolates)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  labels = np.argmax(np.asarray(logits), -1)
  padded = np.pad(labels, [(0, 0), (0, 1), (0, 1)], mode='edge')
  agree = ((padded[:, :-1, :-1] == padded[:, 1:, :-1]) &
           (padded[:, :-1, :-1] == padded[:, :-1, 1:]) &
           (padded[:, :-1, :-1] == padded[:, 1:, 1:]))
  return float(1 - agree.mean())


def _head_costs(model_logits, crop_size, runs=15):
  """Best latency of the upsample-and-argmax head alone, full vs
  `upsampled_argmax`, on the model's logits and on synthetic scenes.

  The benchmark's random-weight model predicts nearly one class, the
  shortcut's best case; a synthetic scene (`data.synthetic`, objects of
  several classes, logits = 4 x one-hot + N(0, 0.5) at the model's output
  resolution) gives a trained model's share of boundary cells, and noise
  logits the worst case (the full computation runs)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from deeplab.core import ops  # pylint: disable=g-import-not-at-top
  from deeplab.data import synthetic  # pylint: disable=g-import-not-at-top
  shape = model_logits.shape
  rng = np.random.RandomState(3)
  _, label = synthetic.make_example(rng, shape[1], shape[2], shape[3] - 1,
                                    max_objects=6, void_width=0)
  cases = {
      'model': np.asarray(model_logits, np.float32),
      'scene': (4 * np.eye(shape[3])[label][None] + rng.normal(
          0, 0.5, shape)).astype(np.float32),
      'noise': rng.normal(0, 1, shape).astype(np.float32),
  }
  size = tf.constant(crop_size)
  full = tf.function(lambda x: ops.channel_argmax(
      ops.resize_bilinear(x, size)))
  shortcut = tf.function(lambda x: ops.upsampled_argmax(x, size))
  entry = {'graph': 'head', 'cases': {}}
  for name, logits in cases.items():
    same = bool(np.array_equal(full(logits), shortcut(logits)))
    times = {'full': [], 'shortcut': []}
    for _ in range(runs):
      for key, fn in (('full', full), ('shortcut', shortcut)):
        start = time.perf_counter()
        fn(logits).numpy()
        times[key].append(time.perf_counter() - start)
    entry['cases'][name] = {
        'boundary_share': boundary_share(logits), 'labels_equal': same,
        'full_best_s': min(times['full']),
        'shortcut_best_s': min(times['shortcut'])}
  return entry


def onnx_installed():
  """Whether the onnx extra (tf2onnx, onnx, onnxruntime) is importable."""
  try:
    # pylint: disable=g-import-not-at-top,unused-import
    import onnx
    import onnxruntime
    import tf2onnx
  except ImportError:
    return False
  return True


def openvino_installed():
  """Whether the openvino extra is importable."""
  try:
    import openvino  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    return False
  return True


def main(unused_argv):
  if FLAGS._child:  # pylint: disable=protected-access
    print('RESULT ' + json.dumps(_measure(FLAGS._child)))  # pylint: disable=protected-access
    return
  model, features = cpu_features()
  print('CPU: %s; %s' % (model, ', '.join(
      '%s %s' % (k, 'yes' if v else 'no') for k, v in features.items())))
  if 'bfloat16' in FLAGS.precisions and not (
      features['amx_bf16'] or features['avx512_bf16']):
    print('Note: this CPU has no bfloat16 units (amx_bf16, avx512_bf16): '
          'bfloat16 runs through conversions here and is expected to be '
          'slower than float32.')
  if FLAGS.onnx and not onnx_installed():
    print('Note: no ONNX rows: the onnx extra is not installed (pip install '
          '-e ".[onnx]"); --noonnx leaves them out without this note.')
    FLAGS.onnx = False
  if FLAGS.openvino and not openvino_installed():
    print('Note: no OpenVINO rows: the openvino extra is not installed (pip '
          'install -e ".[openvino]"); --noopenvino leaves them out without '
          'this note.')
    FLAGS.openvino = False
  if FLAGS.openvino and not has_bf16_units():
    print('Note: OpenVINO runs float32 only: with its bf16 precision hint on '
          'a CPU without bfloat16 units it was over 30x slower.')
  print('%s, %dx%d, batch 1, median of %d interleaved runs; floors from '
        'matmul rates measured in the same process' % (
            FLAGS.model_variant, FLAGS.crop, FLAGS.crop, FLAGS.runs),
        flush=True)
  settings = ['1', 'default'] if FLAGS.threads == 'both' else [FLAGS.threads]
  for threads in settings:
    results, steal = run_child(__file__, threads, [
        '--runs=%d' % FLAGS.runs, '--crop=%d' % FLAGS.crop,
        '--model_variant=' + FLAGS.model_variant,
        '--precisions=' + ','.join(FLAGS.precisions),
        '--dilated_depthwise=' + FLAGS.dilated_depthwise,
        '--inter_op_threads=%d' % FLAGS.inter_op_threads,
        '--serving' if FLAGS.serving else '--noserving',
        '--onnx' if FLAGS.onnx else '--noonnx',
        '--onnx_int8' if FLAGS.onnx_int8 else '--noonnx_int8',
        '--openvino' if FLAGS.openvino else '--noopenvino',
        '--tflite' if FLAGS.tflite else '--notflite'])
    head = [r for r in results if r['graph'] == 'head'][0]
    results = [r for r in results if r['graph'] != 'head']
    first = results[0]
    print('threads %s: fp32 matmul %.1f GFLOP/s (best %.1f) -> fp32 floor '
          '%.3f s%s; peak RSS %.0f MB; CPU time stolen by the hypervisor '
          '%s' % (
              threads, first['fp32_matmul_gflops'],
              first['fp32_best_matmul_gflops'], first['fp32_floor_s'],
              '; bf16 matmul %.1f GFLOP/s -> bf16 floor %.3f s' % (
                  first['bf16_matmul_gflops'], first['bf16_floor_s'])
              if 'bf16_floor_s' in first else '', first['peak_rss_mb'],
              'unknown' if steal is None else '%.1f%%' % (100 * steal)))
    for r in results:
      print('  %-15s %-8s %.4f s = %.2fx fp32 floor%s | best %.4f s = %.2fx'
            '%s | vs optimized %+.1f%% (best %+.1f%%) | labels agree %.4f%%'
            % (r['graph'], r['precision'], r['median_s'],
               r['ratio_to_fp32_floor'],
               ' = %.2fx bf16 floor' % r['ratio_to_bf16_floor']
               if r['precision'] == 'bfloat16' else '',
               r['best_s'], r['best_ratio_to_fp32_floor'],
               ' = %.2fx bf16' % r['best_ratio_to_bf16_floor']
               if r['precision'] == 'bfloat16' else '',
               100 * r['vs_optimized_median'], 100 * r['vs_optimized_best'],
               100 * r['label_agreement']), flush=True)
    print('  upsample+argmax head alone, best of 15 (full resize+argmax vs '
          'ops.upsampled_argmax): ' + '; '.join(
              '%s logits (%.1f%% boundary cells) %.2f vs %.2f ms%s' % (
                  name, 100 * c['boundary_share'], 1e3 * c['full_best_s'],
                  1e3 * c['shortcut_best_s'],
                  '' if c['labels_equal'] else ' LABELS DIFFER')
              for name, c in head['cases'].items()), flush=True)
    if FLAGS.json:
      print(json.dumps(dict(head, model_variant=FLAGS.model_variant,
                            threads=1 if threads == '1' else 'default')))
      for r in results:
        print(json.dumps(r), flush=True)


if __name__ == '__main__':
  app.run(main)
