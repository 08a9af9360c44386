"""The durable function: the whole album-registration workflow as one durable handler."""
