"""Process-image step of the Step Functions workflow."""
