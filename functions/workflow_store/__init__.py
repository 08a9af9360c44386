"""Store steps of the Step Functions workflow: one Lambda, one action per state."""
