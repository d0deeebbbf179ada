"""The reliability suite (see README, "Reliability")."""
