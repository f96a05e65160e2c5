"""The element behaviours: one per element kind, below the lifecycle that runs them."""
