# EventBridge wiring: one upload rule feeding both patterns, the execution-ended rules that
# feed the recorder, and the failure rules that feed the alert topic. Every target has a
# retry policy and a dead-letter queue.

locals {
  # Prefix and suffix on the same field need a wildcard; both cases of each extension.
  key_patterns = distinct(flatten([
    for s in var.image_suffixes : [
      { wildcard = "${var.upload_prefix}*${lower(s)}" },
      { wildcard = "${var.upload_prefix}*${upper(s)}" },
    ]
  ]))

  upload_pattern = {
    source      = ["aws.s3"]
    detail-type = ["Object Created"]
    detail = {
      bucket = { name = [var.bucket_name] }
      object = { key = local.key_patterns }
    }
  }

  # Each service's own terminal statuses: Step Functions ends an execution ABORTED, Lambda
  # ends a durable one STOPPED (StopDurableExecution).
  sf_ended_statuses       = ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
  sf_failed_statuses      = ["FAILED", "TIMED_OUT", "ABORTED"]
  durable_ended_statuses  = ["SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"]
  durable_failed_statuses = ["FAILED", "TIMED_OUT", "STOPPED"]

  sf_pattern = {
    source      = ["aws.states"]
    detail-type = ["Step Functions Execution Status Change"]
  }

  # The durable status event as published (AWS Lambda developer guide, "Monitoring durable
  # functions", EventBridge events:
  # https://docs.aws.amazon.com/lambda/latest/dg/durable-monitoring.html): source
  # aws.lambda, detail-type "Durable Execution Status Change", detail durableExecutionArn,
  # durableExecutionName, functionArn (version-qualified), status (RUNNING, SUCCEEDED,
  # STOPPED, FAILED, TIMED_OUT), startTimestamp and, once ended, endTimestamp.
  durable_pattern = {
    source      = ["aws.lambda"]
    detail-type = ["Durable Execution Status Change"]
  }

  # functionArn is version-qualified (function:NAME:VERSION): match every version of this
  # function, and no other function whose name merely starts the same.
  durable_function_match = [{ prefix = "${var.orchestrator_function_arn}:" }]

  dead_letter_queues = {
    upload-step-functions = "Upload events the state machine did not accept"
    upload-durable        = "Upload events the durable function did not accept"
    execution-recorder    = "Execution-ended events the recorder did not accept"
    alerts                = "Failure events the alert topic did not accept"
  }

  retry_policy = {
    maximum_event_age_in_seconds = var.maximum_event_age_seconds
    maximum_retry_attempts       = var.maximum_retry_attempts
  }
}

# --- dead-letter queues ----------------------------------------------------------------

resource "aws_sqs_queue" "dlq" {
  for_each = local.dead_letter_queues

  name                      = "${var.name_prefix}-${each.key}-dlq"
  message_retention_seconds = var.dlq_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = merge(var.tags, { Purpose = each.value })
}

locals {
  # Which rules deliver to which dead-letter queue (each queue accepts only those).
  dlq_sources = {
    upload-step-functions = [aws_cloudwatch_event_rule.upload.arn]
    upload-durable        = [aws_cloudwatch_event_rule.upload.arn]
    execution-recorder    = [aws_cloudwatch_event_rule.sf_ended.arn, aws_cloudwatch_event_rule.durable_ended.arn]
    alerts                = [aws_cloudwatch_event_rule.sf_failed.arn, aws_cloudwatch_event_rule.durable_failed.arn]
  }
}

data "aws_iam_policy_document" "dlq" {
  for_each = local.dead_letter_queues

  statement {
    sid       = "EventBridgeDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq[each.key].arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = local.dlq_sources[each.key]
    }
  }
}

resource "aws_sqs_queue_policy" "dlq" {
  for_each = local.dead_letter_queues

  queue_url = aws_sqs_queue.dlq[each.key].id
  policy    = data.aws_iam_policy_document.dlq[each.key].json
}

# --- uploads: one rule, both patterns ----------------------------------------------------

resource "aws_cloudwatch_event_rule" "upload" {
  name          = "${var.name_prefix}-upload"
  description   = "An image under ${var.upload_prefix} starts both patterns"
  event_pattern = jsonencode(local.upload_pattern)
  tags          = var.tags
}

data "aws_iam_policy_document" "events_assume" {
  statement {
    sid     = "EventsAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "start_execution" {
  name               = "${var.name_prefix}-events-start-execution"
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "start_execution" {
  statement {
    sid       = "StartStateMachine"
    actions   = ["states:StartExecution"]
    resources = [var.state_machine_arn]
  }
}

resource "aws_iam_role_policy" "start_execution" {
  name   = "${var.name_prefix}-events-start-execution"
  role   = aws_iam_role.start_execution.id
  policy = data.aws_iam_policy_document.start_execution.json
}

resource "aws_cloudwatch_event_target" "step_functions" {
  rule      = aws_cloudwatch_event_rule.upload.name
  target_id = "step-functions"
  arn       = var.state_machine_arn
  role_arn  = aws_iam_role.start_execution.arn

  retry_policy {
    maximum_event_age_in_seconds = local.retry_policy.maximum_event_age_in_seconds
    maximum_retry_attempts       = local.retry_policy.maximum_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq["upload-step-functions"].arn
  }
}

resource "aws_cloudwatch_event_target" "durable" {
  rule      = aws_cloudwatch_event_rule.upload.name
  target_id = "durable-functions"
  # The alias, never the unqualified function: durable executions need a version.
  arn = var.orchestrator_alias_arn

  retry_policy {
    maximum_event_age_in_seconds = local.retry_policy.maximum_event_age_in_seconds
    maximum_retry_attempts       = local.retry_policy.maximum_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq["upload-durable"].arn
  }
}

resource "aws_lambda_permission" "durable_from_upload" {
  statement_id  = "AllowUploadRule"
  action        = "lambda:InvokeFunction"
  function_name = var.orchestrator_function_name
  qualifier     = var.orchestrator_alias_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.upload.arn
}

# --- execution ended: both patterns -> recorder ------------------------------------------

resource "aws_cloudwatch_event_rule" "sf_ended" {
  name        = "${var.name_prefix}-sf-execution-ended"
  description = "A Step Functions execution of this state machine ended"
  event_pattern = jsonencode(merge(local.sf_pattern, {
    detail = { stateMachineArn = [var.state_machine_arn], status = local.sf_ended_statuses }
  }))
  tags = var.tags
}

resource "aws_cloudwatch_event_rule" "durable_ended" {
  name        = "${var.name_prefix}-durable-execution-ended"
  description = "A durable execution of the orchestrator ended"
  event_pattern = jsonencode(merge(local.durable_pattern, {
    detail = { functionArn = local.durable_function_match, status = local.durable_ended_statuses }
  }))
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "recorder" {
  for_each = {
    sf      = aws_cloudwatch_event_rule.sf_ended.name
    durable = aws_cloudwatch_event_rule.durable_ended.name
  }

  rule      = each.value
  target_id = "execution-recorder"
  arn       = var.execution_recorder_function_arn

  retry_policy {
    maximum_event_age_in_seconds = local.retry_policy.maximum_event_age_in_seconds
    maximum_retry_attempts       = local.retry_policy.maximum_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq["execution-recorder"].arn
  }
}

resource "aws_lambda_permission" "recorder" {
  for_each = {
    sf      = aws_cloudwatch_event_rule.sf_ended.arn
    durable = aws_cloudwatch_event_rule.durable_ended.arn
  }

  statement_id  = "AllowExecutionEnded-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = var.execution_recorder_function_name
  principal     = "events.amazonaws.com"
  source_arn    = each.value
}

# --- failures -> alert topic -----------------------------------------------------------

resource "aws_cloudwatch_event_rule" "sf_failed" {
  name        = "${var.name_prefix}-sf-execution-failed"
  description = "A Step Functions execution failed, timed out or was aborted"
  event_pattern = jsonencode(merge(local.sf_pattern, {
    detail = { stateMachineArn = [var.state_machine_arn], status = local.sf_failed_statuses }
  }))
  tags = var.tags
}

resource "aws_cloudwatch_event_rule" "durable_failed" {
  name        = "${var.name_prefix}-durable-execution-failed"
  description = "A durable execution failed, timed out or was stopped"
  event_pattern = jsonencode(merge(local.durable_pattern, {
    detail = { functionArn = local.durable_function_match, status = local.durable_failed_statuses }
  }))
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "alert_sf" {
  rule      = aws_cloudwatch_event_rule.sf_failed.name
  target_id = "alert-topic"
  arn       = var.alert_topic_arn

  input_transformer {
    input_paths = {
      name   = "$.detail.name"
      status = "$.detail.status"
      arn    = "$.detail.executionArn"
    }
    input_template = "\"Step Functions execution <name> ended <status>: <arn>\""
  }

  retry_policy {
    maximum_event_age_in_seconds = local.retry_policy.maximum_event_age_in_seconds
    maximum_retry_attempts       = local.retry_policy.maximum_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq["alerts"].arn
  }
}

resource "aws_cloudwatch_event_target" "alert_durable" {
  rule      = aws_cloudwatch_event_rule.durable_failed.name
  target_id = "alert-topic"
  arn       = var.alert_topic_arn

  input_transformer {
    input_paths = {
      name   = "$.detail.durableExecutionName"
      status = "$.detail.status"
      arn    = "$.detail.durableExecutionArn"
    }
    input_template = "\"Durable execution <name> ended <status>: <arn>\""
  }

  retry_policy {
    maximum_event_age_in_seconds = local.retry_policy.maximum_event_age_in_seconds
    maximum_retry_attempts       = local.retry_policy.maximum_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq["alerts"].arn
  }
}
