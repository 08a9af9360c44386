"""Pure domain: no boto3, no I/O beyond reading packaged data files."""
