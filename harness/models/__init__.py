"""Models the harness can run without any download: a tiny random Llama with a byte tokenizer, and SmolLM2-135M."""
