"""Exports DeepLab as a SavedModel or frozen graph (the original's export_model.py flags).

Run `python export_model.py --help` for the flags; the job is `deeplab.cli.export_model`.
"""
from deeplab import cli

if __name__ == '__main__':
  cli.export_model()
