"""`python -m deeplab.quickstart`: the `deeplab-quickstart` command."""
from deeplab.cli import quickstart

quickstart.main()
