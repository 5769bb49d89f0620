"""Thin adapters that plug ``aem`` into external RL engines (each imports its engine; ``aem`` itself does not)."""
