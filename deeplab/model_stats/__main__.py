"""`python -m deeplab.model_stats`: the `deeplab-model-stats` command."""
from deeplab.cli import model_stats

model_stats.main()
