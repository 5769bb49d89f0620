"""verl integration: the `aemgym_env` agent loop (verl venv only), token-exact multi-turn buffers, launch recipe."""
