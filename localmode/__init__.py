"""Local mode: both patterns end to end in this process, with no AWS account.

``localmode.stack`` (moto + what moto does not deliver), ``localmode.lambdas`` (Lambda
invocations run in-process), ``localmode.vision`` (the Bedrock stand-in), and one module
per pattern: ``localmode.stepfunctions`` and ``localmode.durable``.
"""
