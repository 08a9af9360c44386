"""Accept step of the Step Functions workflow: key rules and upload claim."""
