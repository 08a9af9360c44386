"""AWS adapters. Each takes its boto3 client as an argument; none creates clients at import."""
