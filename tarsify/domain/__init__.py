"""Domain rules of Tarsify: entities, input merging, the execution state machine, errors."""
