"""aem: Adaptive Entropy Modulation and its peers as small pure tensor functions (imports only torch)."""
