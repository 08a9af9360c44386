# Run by `make tf-check` from modules/album_registration,
# on the offline copy (provider 5.100), against mocked AWS: nothing leaves the machine.

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

variables {
  name_prefix   = "albums-test"
  region        = "us-east-1"
  artifacts_dir = "tests/fixtures/artifacts"
}

run "stack" {
  command = apply

  assert {
    condition     = can(jsondecode(output.state_machine_definition))
    error_message = "The rendered ASL is not valid JSON."
  }

  assert {
    condition     = length(regexall("\\$\\{[A-Za-z_]+\\}", output.state_machine_definition)) == 0
    error_message = "The rendered ASL still holds a template placeholder."
  }

  assert {
    condition     = output.state_machine_arn != null && output.durable_alias_arn != null
    error_message = "The CLI outputs are missing."
  }

  assert {
    condition     = jsondecode(output.upload_event_pattern).source == ["aws.s3"] && jsondecode(output.upload_event_pattern)["detail-type"] == ["Object Created"]
    error_message = "The upload rule must match S3 Object Created events."
  }

  assert {
    condition     = output.artifacts["orchestrator"] == "${sha256("orchestrator")}"
    error_message = "The artifacts output must carry the manifest's sha256 (the promoted build)."
  }

  # Nothing sends heartbeats: the default (null) renders no HeartbeatSeconds at all, never
  # one equal to TimeoutSeconds (which the States Language forbids).
  assert {
    condition     = !contains(keys(jsondecode(output.state_machine_definition).States.WaitForValidation), "HeartbeatSeconds") && jsondecode(output.state_machine_definition).States.WaitForValidation.TimeoutSeconds == 3600
    error_message = "With validation_heartbeat_seconds null, WaitForValidation must have TimeoutSeconds 3600 and no HeartbeatSeconds."
  }

  # One execution timeout for both patterns: the state machine's TimeoutSeconds is the
  # value the durable function's durable_config.execution_timeout takes.
  assert {
    condition     = jsondecode(output.state_machine_definition).TimeoutSeconds == 86400
    error_message = "The state machine's TimeoutSeconds must be execution_timeout_seconds (86400 by default)."
  }

  assert {
    condition     = output.execution_margin_seconds == 4 * 180 + 14 + 7 * (4 * 30 + 7)
    error_message = "The margin around the review must follow from image_processor_timeout and the 30 s steps (1623 s by default)."
  }
}

run "heartbeat_below_the_timeout_is_rendered" {
  command = apply

  variables {
    validation_timeout_seconds   = 600
    validation_heartbeat_seconds = 599
    execution_timeout_seconds    = 7200
  }

  assert {
    condition     = jsondecode(output.state_machine_definition).States.WaitForValidation.HeartbeatSeconds == 599 && jsondecode(output.state_machine_definition).States.WaitForValidation.TimeoutSeconds == 600
    error_message = "A heartbeat below the timeout must be rendered as HeartbeatSeconds."
  }

  assert {
    condition     = jsondecode(output.state_machine_definition).TimeoutSeconds == 7200
    error_message = "execution_timeout_seconds must reach the state machine's TimeoutSeconds."
  }
}

# --- the timeout rules: each one refuses what breaks it ---------------------------------

run "heartbeat_equal_to_the_timeout_fails" {
  command = plan

  variables {
    validation_heartbeat_seconds = 3600
  }

  expect_failures = [var.validation_heartbeat_seconds]
}

run "heartbeat_below_one_second_fails" {
  command = plan

  variables {
    validation_heartbeat_seconds = 0
  }

  expect_failures = [var.validation_heartbeat_seconds]
}

run "a_seven_day_review_needs_a_longer_execution_timeout" {
  command = plan

  variables {
    validation_timeout_seconds = 604800
  }

  expect_failures = [var.execution_timeout_seconds]
}

run "a_seven_day_review_fits_with_its_margin" {
  command = plan

  variables {
    validation_timeout_seconds = 604800
    execution_timeout_seconds  = 604800 + 1623 + 1
  }
}

run "an_execution_timeout_without_the_margin_fails" {
  command = plan

  variables {
    validation_timeout_seconds = 3600
    execution_timeout_seconds  = 3600 + 1623
  }

  expect_failures = [var.execution_timeout_seconds]
}

run "a_slower_image_processor_widens_the_margin" {
  command = plan

  variables {
    image_processor_timeout   = 900
    execution_timeout_seconds = 3600 + 1623 + 1
  }

  expect_failures = [var.execution_timeout_seconds]
}

run "an_execution_timeout_beyond_one_year_fails" {
  command = plan

  variables {
    execution_timeout_seconds = 31536001
  }

  expect_failures = [var.execution_timeout_seconds]
}

run "durable_retention_beyond_90_days_fails" {
  command = plan

  variables {
    durable_retention_period = 91
  }

  expect_failures = [var.durable_retention_period]
}

run "durable_retention_below_one_day_fails" {
  command = plan

  variables {
    durable_retention_period = 0
  }

  expect_failures = [var.durable_retention_period]
}

run "a_log_retention_cloudwatch_refuses_fails" {
  command = plan

  variables {
    log_retention_days = 13
  }

  expect_failures = [var.log_retention_days]
}

run "asl" {
  command = apply

  module {
    source = "./tests/asl_check"
  }

  variables {
    definition = run.stack.state_machine_definition
  }

  assert {
    condition     = length(output.problems) == 0
    error_message = "Broken transitions in the ASL: ${join("; ", output.problems)}"
  }

  assert {
    condition     = output.state_count > 0
    error_message = "The ASL has no states."
  }
}

run "missing_artifact_fails_the_plan" {
  command = plan

  variables {
    artifacts_dir = "tests/fixtures/incomplete"
  }

  expect_failures = [terraform_data.artifacts_check]
}

# The checker itself must catch a broken transition, or a pass above proves nothing.
run "asl_check_catches_broken_transitions" {
  command = apply

  module {
    source = "./tests/asl_check"
  }

  variables {
    definition = jsonencode({
      StartAt = "A"
      States = {
        A = { Type = "Pass", Next = "Missing" }
        B = { Type = "Map", ItemProcessor = { StartAt = "C", States = { C = { Type = "Pass" } } }, End = true }
      }
    })
  }

  assert {
    condition     = length(output.problems) == 2
    error_message = "Expected the missing Next and the state without Next/End: ${jsonencode(output.problems)}"
  }
}
