"""The six bundled mini games (one per task type), so the env works without data."""
