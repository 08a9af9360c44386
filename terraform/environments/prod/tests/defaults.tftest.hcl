# Run by `make tf-check` from environments/prod (`terraform test`), on the offline copy
# (provider 5.100), against mocked AWS: nothing leaves the machine. `terraform validate`
# does not evaluate variable values; these runs do. The first plans and applies this
# environment with its own defaults, so a default that breaks a rule (a heartbeat not
# below the review timeout, an execution timeout without the margin around the review, a
# retention AWS refuses) fails the check instead of the deploy.

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
  # The only override: the build to read (dist/ is not part of the offline copy).
  artifacts_dir = "../../modules/album_registration/tests/fixtures/artifacts"
}

run "defaults" {
  command = apply

  assert {
    condition     = var.validation_heartbeat_seconds == null ? !contains(keys(jsondecode(module.album_registration.state_machine_definition).States.WaitForValidation), "HeartbeatSeconds") : jsondecode(module.album_registration.state_machine_definition).States.WaitForValidation.HeartbeatSeconds < var.validation_timeout_seconds
    error_message = "WaitForValidation must have no HeartbeatSeconds (null default) or one below its TimeoutSeconds."
  }

  assert {
    condition     = jsondecode(module.album_registration.state_machine_definition).TimeoutSeconds == var.execution_timeout_seconds
    error_message = "The state machine's TimeoutSeconds must be this environment's execution_timeout_seconds."
  }

  assert {
    condition     = local.execution_margin_seconds == module.album_registration.execution_margin_seconds
    error_message = "local.execution_margin_seconds (${local.execution_margin_seconds}) must equal the module's margin (${module.album_registration.execution_margin_seconds})."
  }
}

run "heartbeat_equal_to_the_timeout_fails" {
  command = plan

  variables {
    validation_timeout_seconds   = 3600
    validation_heartbeat_seconds = 3600
  }

  expect_failures = [var.validation_heartbeat_seconds]
}

run "execution_timeout_without_the_margin_fails" {
  command = plan

  variables {
    validation_timeout_seconds = 604800
    execution_timeout_seconds  = 604800 + 1623
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

run "log_retention_cloudwatch_refuses_fails" {
  command = plan

  variables {
    log_retention_days = 13
  }

  expect_failures = [var.log_retention_days]
}
