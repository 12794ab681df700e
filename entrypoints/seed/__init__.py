"""The seed: GPU endpoints and base models for the public RunPod workers, and the demo
users and models (``tarsify seed``, ``tarsify serve --demo``, the web demo's sign-in)."""
