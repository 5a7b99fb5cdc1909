"""Exports DeepLab for serving (the original's export_model.py flags).

Run `python export_model.py --help` for the flags; the command is
`deeplab.cli.export_model`.
"""
from deeplab.cli import export_model

if __name__ == '__main__':
  export_model.main()
