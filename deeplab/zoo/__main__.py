"""`python -m deeplab.zoo`: the `deeplab-zoo` command."""
from deeplab.cli import zoo

zoo.main()
