"""`aemgym view`: a local web app to read runs — runs, one run's report and episodes, one episode turn by turn
(prompts, responses with per-token log-probs, actions, observations; SWE-bench diffs and grading), two runs side by
side, and training runs' curves with the α and advantage of every turn.

Modules: `index.py` (a byte-offset index of `episodes.jsonl`, read lazily, extended as a run appends),
`catalog.py` (the runs found and what is wrong with them), `pages/` (one module per page), `html.py`, `charts.py`
(inline SVG), `tokens.py` (heat maps), `app.py` (the FastAPI routes), `static/` (CSS and the one script).
"""
