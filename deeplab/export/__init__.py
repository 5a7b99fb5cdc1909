"""Export for serving: SavedModel, the original's frozen graph, TFLite, ONNX,
OpenVINO.

  serving.py   the serving module: signatures, the frozen graph
  folders.py   writing exports whole, replacing only this project's own
  tflite.py    float and int8 TFLite models
  onnx.py      ONNX models, float and int8 (the `onnx` extra)
  openvino.py  OpenVINO models (the `openvino` extra)
  exporter.py  the export job: `run(config, options)`

The names below are the package's public API (`from deeplab import export`).
"""
from deeplab.configs import ExportConfig
from deeplab.export.exporter import run
from deeplab.export.folders import EXPORT_ENTRIES
from deeplab.export.folders import export_frozen_graph
from deeplab.export.folders import export_saved_model
from deeplab.export.folders import is_export
from deeplab.export.folders import is_frozen_graph
from deeplab.export.folders import recover_export
from deeplab.export.onnx import MissingExtraError
from deeplab.export.onnx import ONNX_OPSET
from deeplab.export.onnx import export_onnx
from deeplab.export.onnx import int8_onnx_path
from deeplab.export.onnx import is_onnx_export
from deeplab.export.onnx import onnx_packages
from deeplab.export.onnx import onnx_session
from deeplab.export.onnx import quantize_onnx
from deeplab.export.openvino import compiled_model
from deeplab.export.openvino import export_openvino
from deeplab.export.openvino import is_openvino_export
from deeplab.export.serving import DeepLabServing
from deeplab.export.serving import INPUT_NAME
from deeplab.export.serving import OUTPUT_NAME
from deeplab.export.serving import PROBABILITIES_NAME
from deeplab.export.serving import PROBABILITIES_SIGNATURE
from deeplab.export.serving import TILED_SIGNATURE
from deeplab.export.tflite import convert_tflite
from deeplab.export.tflite import export_tflite
from deeplab.export.tflite import run_tflite
from deeplab.export.tflite import tflite_agreement
from deeplab.export.tflite import tflite_model

__all__ = ['DeepLabServing', 'EXPORT_ENTRIES', 'ExportConfig', 'INPUT_NAME',
           'MissingExtraError', 'ONNX_OPSET', 'OUTPUT_NAME',
           'PROBABILITIES_NAME', 'PROBABILITIES_SIGNATURE', 'TILED_SIGNATURE',
           'compiled_model', 'convert_tflite', 'export_frozen_graph',
           'export_onnx', 'export_openvino', 'export_saved_model',
           'export_tflite', 'int8_onnx_path', 'is_export', 'is_frozen_graph',
           'is_onnx_export', 'is_openvino_export', 'onnx_packages',
           'onnx_session', 'quantize_onnx', 'recover_export', 'run',
           'run_tflite', 'tflite_agreement', 'tflite_model']
