"""RL training through the harness: token-exact batching, the local learner, checkpoints, the loop.

The run configuration is `harness.config.TrainConfig`; rollouts use the harness's one sampler, gatherer and run
store. Heavy modules (torch, transformers) are imported by the submodules that need them; see README.md.
"""
