"""The edge's decisions: the link state estimator and the arbiter choosing cloud or edge results."""
