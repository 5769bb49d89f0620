"""ALFWorld on the real TextWorld/ALFWorld engine (`agent_envs/ALFWorld-v0`); see README.md."""
