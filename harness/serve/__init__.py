"""Serving local models: an OpenAI-compatible server and a background uvicorn runner."""
