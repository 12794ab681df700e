"""The engine seed: GPU endpoints and base models for the public RunPod workers."""
