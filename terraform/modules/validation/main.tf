# Human validation: the notification topic, the link-signing secret, and the API behind a
# function URL that answers task tokens (Step Functions) and callbacks (durable).

resource "aws_sns_topic" "notifications" {
  name = "${var.name_prefix}-validation-requests"
  # Only our Lambda roles publish here, so the AWS managed key needs no key policy of ours.
  kms_master_key_id = "alias/aws/sns"
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "reviewer" {
  count = var.reviewer_email == null ? 0 : 1

  topic_arn = aws_sns_topic.notifications.arn
  protocol  = "email"
  endpoint  = var.reviewer_email
}

resource "aws_secretsmanager_secret" "signing" {
  # checkov:skip=CKV_AWS_149:Encrypted with the AWS managed key aws/secretsmanager; only the two roles that need it may read it
  # checkov:skip=CKV2_AWS_57:The HMAC key is rotated deliberately with put-secret-value (see README); links signed with the previous version keep working until they expire
  name                    = "${var.name_prefix}/validation-signing-key"
  description             = "HMAC key that signs validation links"
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

data "aws_secretsmanager_random_password" "signing" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "signing" {
  secret_id     = aws_secretsmanager_secret.signing.id
  secret_string = data.aws_secretsmanager_random_password.signing.random_password

  # The data source draws a new value on every plan; the first one is kept. Rotate with
  # `aws secretsmanager put-secret-value` (see README): the old value becomes AWSPREVIOUS
  # and still verifies the links it signed.
  lifecycle {
    ignore_changes = [secret_string]
  }
}

locals {
  orchestrator_arns = [var.orchestrator_function_arn, "${var.orchestrator_function_arn}:*"]
}

module "api" {
  source = "../lambda_function"
  count  = var.create_api ? 1 : 0

  function_name      = "${var.name_prefix}-validation-api"
  description        = "Validation page and API: answers task tokens and durable callbacks"
  filename           = var.api_artifact.filename
  handler            = var.api_artifact.handler
  source_code_hash   = var.api_artifact.source_code_hash
  layer_arns         = var.layer_arns
  memory_size        = var.memory_size
  log_retention_days = var.log_retention_days
  log_level          = var.log_level
  tags               = var.tags

  environment_variables = merge(var.environment_variables, {
    SIGNING_SECRET_ARN     = aws_secretsmanager_secret.signing.arn
    NOTIFICATION_TOPIC_ARN = aws_sns_topic.notifications.arn
  })

  policy_statements = [
    {
      # Reads claims, executions and tasks; answers a task with one conditional update.
      sid       = "TableItems"
      actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
      resources = [var.table_arn]
    },
    {
      # Task-token callbacks have no resource type: IAM only matches them on "*" (the
      # token itself names the execution, and only its holder can answer).
      sid       = "AnswerTaskTokens"
      actions   = ["states:SendTaskSuccess", "states:SendTaskFailure"]
      resources = ["*"]
    },
    {
      sid = "AnswerDurableCallbacks"
      actions = [
        "lambda:SendDurableExecutionCallbackSuccess",
        "lambda:SendDurableExecutionCallbackFailure",
      ]
      resources = local.orchestrator_arns
    },
    {
      # Pre-signed photo links name the exact object version.
      sid       = "ReadUploads"
      actions   = ["s3:GetObject", "s3:GetObjectVersion"]
      resources = ["${var.bucket_arn}/${var.upload_prefix}*"]
    },
    {
      sid       = "SigningKey"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [aws_secretsmanager_secret.signing.arn]
    },
  ]
}

# Auth NONE on purpose: every request carries an HMAC-signed link the function checks.
resource "aws_lambda_function_url" "api" {
  # checkov:skip=CKV_AWS_258:Reviewers open the link from a browser without AWS credentials; the function checks an HMAC-signed, expiring link on every request
  count = var.create_api ? 1 : 0

  function_name      = module.api[0].function_name
  authorization_type = "NONE"
}

resource "aws_lambda_permission" "api_url" {
  # checkov:skip=CKV_AWS_301:The function URL must be reachable by browsers; the permission is limited to function_url_auth_type NONE and the app checks signed links
  count = var.create_api ? 1 : 0

  statement_id           = "AllowPublicFunctionUrl"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = module.api[0].function_name
  principal              = "*"
  function_url_auth_type = "NONE"
}

# Function URLs created since October 2025 need lambda:InvokeFunction as well as
# lambda:InvokeFunctionUrl (Lambda developer guide, "Control access to Lambda function
# URLs", https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html).
# invoked_via_function_url (provider 6.28) adds the condition
# lambda:InvokedViaFunctionUrl = true: the grant holds only for requests that come through
# the function URL, never for a direct Invoke. Provider 6.28 also adds such a statement
# itself when it creates a URL with auth NONE (CHANGELOG 6.28.0); this one is explicit so
# that it is in the state, reviewed by scripts/iam_check.py and present for URLs created
# before 6.28. Its statement id is not the provider's, so the two never conflict.
resource "aws_lambda_permission" "api_url_invoke" {
  # checkov:skip=CKV_AWS_301:Browsers reach the function only through its URL (auth NONE, HMAC-signed links checked by the app); invoked_via_function_url limits this grant to requests made through that URL
  count = var.create_api ? 1 : 0

  statement_id  = "AllowPublicFunctionUrlInvoke"
  action        = "lambda:InvokeFunction"
  function_name = module.api[0].function_name
  principal     = "*"
  # offline-check:provider-6.28:begin
  invoked_via_function_url = true
  # offline-check:provider-6.28:end
}
