"""Evaluates DeepLab checkpoints (the original's eval.py flags).

Run `python eval.py --help` for the flags; the command is
`deeplab.cli.evaluate`.
"""
from deeplab.cli import evaluate

if __name__ == '__main__':
  evaluate.main()
