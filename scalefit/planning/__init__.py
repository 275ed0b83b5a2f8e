"""Planning: compute-optimal allocation, over-training plans, optimal hyperparameters for a target."""
