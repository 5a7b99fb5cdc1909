"""Network building blocks: layers, backbones and the feature-extractor table."""
