"""Dataset conversion to TFRecords (the original's schema and shard names)."""
