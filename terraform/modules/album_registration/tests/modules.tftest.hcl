# Module-level assertions: key schema, event pattern, targets, DLQs, IAM without wildcards.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_lambda_layer_version" {
    defaults = { arn = "arn:aws:lambda:us-east-1:123456789012:layer:mock:1" }
  }
  mock_resource "aws_lambda_function" {
    defaults = {
      arn           = "arn:aws:lambda:us-east-1:123456789012:function:mock"
      qualified_arn = "arn:aws:lambda:us-east-1:123456789012:function:mock:1"
      invoke_arn    = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:mock/invocations"
      version       = "1"
    }
  }
  mock_resource "aws_lambda_alias" {
    defaults = { arn = "arn:aws:lambda:us-east-1:123456789012:function:mock:live" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:mock" }
  }
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:us-east-1:123456789012:mock", url = "https://sqs.us-east-1.amazonaws.com/123456789012/mock" }
  }
  mock_resource "aws_sfn_state_machine" {
    defaults = { arn = "arn:aws:states:us-east-1:123456789012:stateMachine:mock" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:mock" }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:us-east-1:123456789012:rule/mock" }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mock-AbCdEf" }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:us-east-1:123456789012:table/mock" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::mock" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

run "storage" {
  command = apply

  module {
    source = "../storage"
  }

  variables {
    bucket_name = "albums-test-uploads"
    table_name  = "albums-test-albums"
  }

  # Must equal TABLE_SCHEMA in shared_layer/albums/domain/records.py.
  assert {
    condition     = aws_dynamodb_table.this.hash_key == "pk" && aws_dynamodb_table.this.range_key == "sk"
    error_message = "Table keys must be pk (HASH) / sk (RANGE)."
  }

  assert {
    condition     = toset([for a in aws_dynamodb_table.this.attribute : "${a.name}:${a.type}"]) == toset(["pk:S", "sk:S", "gsi1pk:S", "gsi1sk:S"])
    error_message = "Table attributes must be pk, sk, gsi1pk, gsi1sk, all strings."
  }

  assert {
    condition = length(aws_dynamodb_table.this.global_secondary_index) == 1 && alltrue([
      for g in aws_dynamodb_table.this.global_secondary_index :
      g.name == "GSI1" && g.hash_key == "gsi1pk" && g.range_key == "gsi1sk" && g.projection_type == "ALL"
    ])
    error_message = "GSI1 must be gsi1pk / gsi1sk with projection ALL."
  }

  assert {
    condition     = aws_dynamodb_table.this.billing_mode == "PAY_PER_REQUEST" && aws_dynamodb_table.this.point_in_time_recovery[0].enabled && aws_dynamodb_table.this.server_side_encryption[0].enabled
    error_message = "Table must be on-demand, encrypted, with point-in-time recovery."
  }

  assert {
    condition     = aws_dynamodb_table.this.ttl[0].attribute_name == "ttl" && aws_dynamodb_table.this.ttl[0].enabled
    error_message = "TTL must be on attribute ttl."
  }

  assert {
    condition     = aws_s3_bucket_versioning.uploads.versioning_configuration[0].status == "Enabled" && aws_s3_bucket_notification.uploads.eventbridge
    error_message = "The bucket needs versioning and EventBridge notifications."
  }

  assert {
    condition     = aws_s3_bucket_public_access_block.uploads.block_public_acls && aws_s3_bucket_public_access_block.uploads.block_public_policy && aws_s3_bucket_public_access_block.uploads.ignore_public_acls && aws_s3_bucket_public_access_block.uploads.restrict_public_buckets
    error_message = "All public access must be blocked."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.uploads.statement :
      s.effect == "Deny" && [for c in s.condition : c.variable] == ["aws:SecureTransport"]
    ])
    error_message = "The bucket policy may only deny requests without TLS."
  }
}

run "events" {
  command = apply

  module {
    source = "../events"
  }

  variables {
    name_prefix                      = "albums-test"
    bucket_name                      = "albums-test-uploads"
    state_machine_arn                = "arn:aws:states:us-east-1:123456789012:stateMachine:albums-test-album-registration"
    orchestrator_function_name       = "albums-test-orchestrator"
    orchestrator_function_arn        = "arn:aws:lambda:us-east-1:123456789012:function:albums-test-orchestrator"
    orchestrator_alias_name          = "live"
    orchestrator_alias_arn           = "arn:aws:lambda:us-east-1:123456789012:function:albums-test-orchestrator:live"
    execution_recorder_function_name = "albums-test-execution-recorder"
    execution_recorder_function_arn  = "arn:aws:lambda:us-east-1:123456789012:function:albums-test-execution-recorder"
    alert_topic_arn                  = "arn:aws:sns:us-east-1:123456789012:albums-test-alerts"
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.upload.event_pattern).detail.object.key == [
      { wildcard = "uploads/*.jpg" }, { wildcard = "uploads/*.JPG" },
      { wildcard = "uploads/*.jpeg" }, { wildcard = "uploads/*.JPEG" },
      { wildcard = "uploads/*.png" }, { wildcard = "uploads/*.PNG" },
      { wildcard = "uploads/*.webp" }, { wildcard = "uploads/*.WEBP" },
    ]
    error_message = "The upload rule must match uploads/ with an image suffix."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.upload.event_pattern).detail.bucket.name == ["albums-test-uploads"]
    error_message = "The upload rule must be limited to the uploads bucket."
  }

  assert {
    condition     = aws_cloudwatch_event_target.step_functions.arn == var.state_machine_arn && aws_cloudwatch_event_target.durable.arn == var.orchestrator_alias_arn
    error_message = "The upload rule needs the state machine and the durable alias as targets."
  }

  assert {
    condition     = aws_cloudwatch_event_target.step_functions.rule == aws_cloudwatch_event_rule.upload.name && aws_cloudwatch_event_target.durable.rule == aws_cloudwatch_event_rule.upload.name
    error_message = "Both targets must hang off the one upload rule."
  }

  assert {
    condition = alltrue([
      for t in [aws_cloudwatch_event_target.step_functions, aws_cloudwatch_event_target.durable, aws_cloudwatch_event_target.recorder["sf"], aws_cloudwatch_event_target.recorder["durable"], aws_cloudwatch_event_target.alert_sf, aws_cloudwatch_event_target.alert_durable] :
      length(t.retry_policy) == 1 && length(t.dead_letter_config) == 1 && contains([for q in aws_sqs_queue.dlq : q.arn], t.dead_letter_config[0].arn)
    ])
    error_message = "Every target needs a retry policy and one of the module's dead-letter queues."
  }

  assert {
    condition     = aws_sqs_queue.dlq["upload-step-functions"].name != aws_sqs_queue.dlq["upload-durable"].name && aws_cloudwatch_event_target.step_functions.dead_letter_config[0].arn == aws_sqs_queue.dlq["upload-step-functions"].arn && aws_cloudwatch_event_target.durable.dead_letter_config[0].arn == aws_sqs_queue.dlq["upload-durable"].arn
    error_message = "Each pattern's upload target needs its own dead-letter queue."
  }

  assert {
    condition     = alltrue([for q in aws_sqs_queue.dlq : q.sqs_managed_sse_enabled])
    error_message = "Dead-letter queues must be encrypted."
  }

  assert {
    condition     = aws_lambda_permission.durable_from_upload.qualifier == "live" && aws_lambda_permission.durable_from_upload.source_arn == aws_cloudwatch_event_rule.upload.arn
    error_message = "EventBridge may invoke only the alias, and only from the upload rule."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.sf_failed.event_pattern).detail.status == ["FAILED", "TIMED_OUT", "ABORTED"]
    error_message = "The alert rule must match FAILED, TIMED_OUT and ABORTED executions."
  }

  # The published durable status event: source aws.lambda, detail-type "Durable Execution
  # Status Change", a version-qualified functionArn, Lambda's own terminal statuses.
  assert {
    condition = alltrue([
      for rule in [aws_cloudwatch_event_rule.durable_ended, aws_cloudwatch_event_rule.durable_failed] :
      jsondecode(rule.event_pattern).source == ["aws.lambda"] && jsondecode(rule.event_pattern)["detail-type"] == ["Durable Execution Status Change"] && jsondecode(rule.event_pattern).detail.functionArn == [{ prefix = "${var.orchestrator_function_arn}:" }]
    ])
    error_message = "The durable rules must match the published status event of every version of this function."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.durable_ended.event_pattern).detail.status == ["SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"] && jsondecode(aws_cloudwatch_event_rule.durable_failed.event_pattern).detail.status == ["FAILED", "TIMED_OUT", "STOPPED"]
    error_message = "The durable rules must match Lambda's terminal statuses (SUCCEEDED, FAILED, TIMED_OUT, STOPPED), never RUNNING."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.sf_ended.event_pattern).detail.status == ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
    error_message = "The Step Functions ended rule must match its terminal statuses."
  }

  assert {
    condition     = aws_cloudwatch_event_target.alert_durable.input_transformer[0].input_paths == tomap({ name = "$.detail.durableExecutionName", status = "$.detail.status", arn = "$.detail.durableExecutionArn" })
    error_message = "The durable alert must name the execution from the published detail fields."
  }

  assert {
    condition     = data.aws_iam_policy_document.start_execution.statement[0].actions == toset(["states:StartExecution"]) && data.aws_iam_policy_document.start_execution.statement[0].resources == toset([var.state_machine_arn])
    error_message = "The EventBridge role may only start this state machine."
  }
}

run "lambda_function" {
  command = apply

  module {
    source = "../lambda_function"
  }

  variables {
    function_name    = "albums-test-validation-notifier"
    filename         = "tests/fixtures/artifacts/validation_notifier.zip"
    handler          = "validation_notifier.handler.handler"
    source_code_hash = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    policy_statements = [{
      sid       = "TableItems"
      actions   = ["dynamodb:PutItem"]
      resources = ["arn:aws:dynamodb:us-east-1:123456789012:table/albums-test-albums"]
    }]
  }

  assert {
    condition     = aws_lambda_function.this.runtime == "python3.13" && one(aws_lambda_function.this.architectures) == "arm64" && aws_lambda_function.this.memory_size == 1024
    error_message = "Functions run python3.13 on arm64 with 1024 MB."
  }

  assert {
    condition     = aws_lambda_function.this.tracing_config[0].mode == "Active" && aws_lambda_function.this.logging_config[0].log_group == aws_cloudwatch_log_group.this.name
    error_message = "X-Ray must be active and logs go to the function's own group."
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.retention_in_days == 30
    error_message = "The log group needs a retention."
  }

  assert {
    condition = alltrue(flatten([
      for s in data.aws_iam_policy_document.this.statement : [for a in s.actions : !strcontains(a, "*")]
    ]))
    error_message = "No wildcard actions in a function's role."
  }

  assert {
    condition     = contains(flatten([for s in data.aws_iam_policy_document.this.statement : tolist(s.actions)]), "dynamodb:PutItem")
    error_message = "The given statements must reach the role."
  }
}

run "lambda_function_refuses_wildcards" {
  command = plan

  module {
    source = "../lambda_function"
  }

  variables {
    function_name    = "albums-test-bad"
    filename         = "x.zip"
    handler          = "x.handler.handler"
    source_code_hash = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    policy_statements = [{
      sid       = "TooMuch"
      actions   = ["dynamodb:*"]
      resources = ["*"]
    }]
  }

  expect_failures = [var.policy_statements]
}

run "durable_orchestrator" {
  command = apply

  module {
    source = "../durable_orchestrator"
  }

  variables {
    function_name    = "albums-test-orchestrator"
    region           = "us-east-1"
    filename         = "orchestrator.zip"
    handler          = "orchestrator.handler.handler"
    source_code_hash = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
  }

  assert {
    condition     = aws_lambda_function.this.publish && aws_lambda_alias.live.name == "live" && aws_lambda_alias.live.function_version == aws_lambda_function.this.version
    error_message = "The orchestrator must publish a version and point the live alias at it."
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.this.statement :
      s.actions == toset(["lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState"]) &&
      contains(s.resources, "arn:aws:lambda:us-east-1:123456789012:function:albums-test-orchestrator:*")
    ])
    error_message = "The role needs the durable checkpoint actions on function:NAME:*."
  }

  assert {
    condition = alltrue(flatten([
      for s in data.aws_iam_policy_document.this.statement : [for a in s.actions : !strcontains(a, "*")]
    ]))
    error_message = "No wildcard actions in the orchestrator's role."
  }
}

run "state_machine" {
  command = apply

  module {
    source = "../state_machine"
  }

  variables {
    name                 = "albums-test-album-registration"
    definition_template  = "tests/fixtures/minimal.asl.json.tftpl"
    definition_vars      = { task_arn = "arn:aws:lambda:us-east-1:123456789012:function:albums-test-task" }
    lambda_function_arns = ["arn:aws:lambda:us-east-1:123456789012:function:albums-test-task"]
    table_arn            = "arn:aws:dynamodb:us-east-1:123456789012:table/albums-test-albums"
  }

  assert {
    condition     = aws_sfn_state_machine.this.type == "STANDARD" && aws_sfn_state_machine.this.tracing_configuration[0].enabled
    error_message = "Standard type with X-Ray."
  }

  assert {
    condition     = aws_sfn_state_machine.this.logging_configuration[0].level == "ALL" && aws_sfn_state_machine.this.logging_configuration[0].include_execution_data
    error_message = "Logging ALL with execution data."
  }

  assert {
    condition = alltrue(flatten([
      for s in data.aws_iam_policy_document.this.statement : [for a in s.actions : !strcontains(a, "*")]
    ]))
    error_message = "No wildcard actions in the state machine's role."
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.this.statement : s.resources if s.sid == "InvokeTaskFunctions"
    ][0] == toset(["arn:aws:lambda:us-east-1:123456789012:function:albums-test-task", "arn:aws:lambda:us-east-1:123456789012:function:albums-test-task:*"])
    error_message = "The state machine may invoke only its own task functions."
  }
}

run "observability" {
  command = apply

  module {
    source = "../observability"
  }

  variables {
    name_prefix                = "albums-test"
    region                     = "us-east-1"
    state_machine_arn          = "arn:aws:states:us-east-1:123456789012:stateMachine:albums-test-album-registration"
    orchestrator_function_name = "albums-test-orchestrator"
    dead_letter_queue_names    = { upload-durable = "albums-test-upload-durable-dlq" }
  }

  # Durable failures are counted per execution (DurableExecutionFailed/TimedOut), never
  # per invocation (Errors: a durable execution is many invocations).
  assert {
    condition = toset([
      for q in aws_cloudwatch_metric_alarm.durable_failed.metric_query : q.metric[0].metric_name if length(q.metric) > 0
    ]) == toset(["DurableExecutionFailed", "DurableExecutionTimedOut"])
    error_message = "The durable alarm must sum DurableExecutionFailed and DurableExecutionTimedOut."
  }

  assert {
    condition = alltrue([
      for q in aws_cloudwatch_metric_alarm.durable_failed.metric_query : q.metric[0].namespace == "AWS/Lambda" && q.metric[0].stat == "Sum" && q.metric[0].dimensions == tomap({ FunctionName = "albums-test-orchestrator" }) if length(q.metric) > 0
    ])
    error_message = "The durable metrics are AWS/Lambda sums for the orchestrator's FunctionName."
  }

  assert {
    condition = one([
      for q in aws_cloudwatch_metric_alarm.durable_failed.metric_query : q if q.return_data == true
    ]).expression == "FILL(failed, 0) + FILL(timedout, 0)"
    error_message = "The durable alarm must fire on the sum of failed and timed-out executions."
  }

  assert {
    condition     = contains(output.alarm_names, "albums-test-orchestrator-failed") && !contains(output.alarm_names, "albums-test-orchestrator-errors")
    error_message = "The orchestrator alarm counts failed executions, not invocation errors."
  }
}
