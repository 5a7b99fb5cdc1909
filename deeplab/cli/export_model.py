"""`deeplab-export` / export_model.py: exports a trained model for serving
(the original's export_model.py)."""
from deeplab import configs
from deeplab.cli import command
from deeplab.cli import flag_tables
from deeplab.cli import run_settings

DOC = '''Exports a trained DeepLab for serving (the original's
export_model.py).

--export_path=<folder>: a SavedModel (serving_default: ImageTensor uint8
[batch, H, W, 3] -> SemanticPredictions; serving_probabilities: also
SemanticProbabilities), optionally TFLite files.
--export_path=<file>.pb: the original's frozen inference graph
(ImageTensor:0 -> SemanticPredictions:0).
--export_path=<file>.onnx: ONNX (ONNX Runtime, OpenVINO; with
--onnx_input_size every shape static, for TensorRT and edge compilers).
--export_path=<file>.xml: OpenVINO's own format (and <file>.bin).

Example:
  python export_model.py --checkpoint_path=/runs/voc \\
    --export_path=/export/voc/frozen_inference_graph.pb \\
    --model_variant=xception_65 --atrous_rates=6 --atrous_rates=12 \\
    --atrous_rates=18 --output_stride=16 --decoder_output_stride=4 \\
    --num_classes=21 --crop_size=513 --crop_size=513 --inference_scales=1.0'''

# The original exports at output stride 8 by default.
GROUPS = flag_tables.inference_command_groups(
    'Export', 'export_model.py', flag_tables.EXPORT_FLAGS,
    flag_tables.EXPORT_EXTRA_FLAGS, configs.ExportConfig, 8, {})


def job(fv):
  """Exports the checkpoint the flags name; the lines to print."""
  from deeplab import export  # pylint: disable=g-import-not-at-top
  return export.run(*run_settings.job_settings(
      fv, configs.ExportConfig, 'checkpoint_path', 'crop_size'))


main = command.entry_point(DOC, GROUPS, job)
