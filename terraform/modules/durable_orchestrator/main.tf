# The durable orchestrator: one Lambda function that runs the whole workflow with
# checkpoint/replay, published as a version behind an alias that EventBridge invokes.

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  log_group_name = "/aws/lambda/${var.function_name}"
  # Durable checkpoints are made by the running version, so the actions are granted on
  # every qualifier of this function (and the unqualified ARN the service may also check).
  unqualified_arn = "arn:${data.aws_partition.current.partition}:lambda:${var.region}:${data.aws_caller_identity.current.account_id}:function:${var.function_name}"
}

resource "aws_cloudwatch_log_group" "this" {
  # checkov:skip=CKV_AWS_158:Logs hold no secrets and are encrypted at rest by CloudWatch Logs; a CMK would need a key policy for the logs service and costs per key
  # checkov:skip=CKV_AWS_338:Retention is a per-environment variable (dev 14 days, prod 90); a year of debug logs is cost without use
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.function_name}-role"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # X-Ray accepts no resource narrower than "*" for these two actions.
  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    sid       = "DurableCheckpoints"
    actions   = ["lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState"]
    resources = [local.unqualified_arn, "${local.unqualified_arn}:*"]
  }

  dynamic "statement" {
    for_each = var.policy_statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.function_name}-policy"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_116:Invoked synchronously (Step Functions, function URL) or by EventBridge targets that have their own SQS DLQ; an async-invoke DLQ would never receive anything
  # checkov:skip=CKV_AWS_117:Reaches only public AWS endpoints (S3, DynamoDB, Bedrock, SNS, Secrets Manager); a VPC adds NAT or endpoint cost and cold-start latency without reducing exposure
  # checkov:skip=CKV_AWS_115:Reserved concurrency is taken from the account pool and fails in accounts with the default low limit; load is bounded by the upload rate
  # checkov:skip=CKV_AWS_272:Artifacts are reproducible builds promoted by sha256 from dist/manifest.json (source_code_hash); a Signer profile is not available in every account
  # checkov:skip=CKV_AWS_173:The environment holds only names and ARNs, no secrets (the signing key is in Secrets Manager); Lambda encrypts it at rest with its service key
  function_name    = var.function_name
  description      = "Album registration as a Lambda durable function"
  role             = aws_iam_role.this.arn
  filename         = var.filename
  source_code_hash = var.source_code_hash
  handler          = var.handler
  runtime          = "python3.13"
  architectures    = ["arm64"]
  memory_size      = var.memory_size
  timeout          = var.timeout
  layers           = var.layer_arns
  # Durable executions run a published version, never $LATEST.
  publish = true

  # offline-check:durable_config:begin
  durable_config {
    execution_timeout = var.execution_timeout
    retention_period  = var.retention_period
  }
  # offline-check:durable_config:end

  environment {
    variables = merge(var.environment_variables, { POWERTOOLS_LOG_LEVEL = var.log_level })
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.this]
}

resource "aws_lambda_alias" "live" {
  name             = var.alias_name
  description      = "The version EventBridge starts durable executions on"
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version
}
