# Alert topic, the side-by-side dashboard and the alarms.

data "aws_caller_identity" "current" {}

locals {
  patterns = {
    step_functions    = { label = "Step Functions", namespace = var.namespaces.step_functions, workflow_type = "step-functions", x = 0 }
    durable_functions = { label = "Durable functions", namespace = var.namespaces.durable_functions, workflow_type = "durable-functions", x = 12 }
  }

  # Every EMF metric carries these two dimensions.
  dims = { for k, p in local.patterns : k => ["workflowType", p.workflow_type, "service", var.service_name] }

  # Lambda's execution-level metrics of a durable function (not Errors: see durable_failed).
  durable_failure_metrics = { failed = "DurableExecutionFailed", timedout = "DurableExecutionTimedOut" }

  outcome_metrics = ["ExecutionsEnded", "ExecutionsCompleted", "ExecutionsCompletedWithErrors", "ExecutionsRejected", "ExecutionsFailed", "ExecutionsDuplicate"]

  # One column per pattern, the same rows in the same places.
  column_widgets = flatten([
    for k, p in local.patterns : [
      {
        type       = "text", x = p.x, y = 0, width = 12, height = 1
        properties = { markdown = "## ${p.label} (`${p.namespace}`)" }
      },
      {
        type = "metric", x = p.x, y = 1, width = 12, height = 6
        properties = {
          title   = "${p.label}: executions by outcome"
          region  = var.region
          stat    = "Sum"
          period  = 300
          view    = "timeSeries"
          metrics = [for m in local.outcome_metrics : concat([p.namespace, m], local.dims[k])]
        }
      },
      {
        type = "metric", x = p.x, y = 7, width = 12, height = 6
        properties = {
          title  = "${p.label}: execution duration (ms)"
          region = var.region
          period = 300
          view   = "timeSeries"
          metrics = [
            concat([p.namespace, "ExecutionDuration"], local.dims[k], [{ stat = "p50", label = "p50" }]),
            concat([p.namespace, "ExecutionDuration"], local.dims[k], [{ stat = "p90", label = "p90" }]),
          ]
        }
      },
      {
        type = "metric", x = p.x, y = 13, width = 12, height = 6
        properties = {
          title  = k == "step_functions" ? "${p.label}: state transitions" : "${p.label}: durable operations and replays"
          region = var.region
          stat   = "Sum"
          period = 300
          view   = "timeSeries"
          metrics = k == "step_functions" ? [
            concat([p.namespace, "StateTransitions"], local.dims[k]),
            ] : [
            concat([p.namespace, "DurableOperations"], local.dims[k]),
            concat([p.namespace, "Replays"], local.dims[k]),
          ]
        }
      },
      {
        type = "metric", x = p.x, y = 19, width = 12, height = 6
        properties = {
          title  = "${p.label}: cost per workflow (USD) and Lambda GB-seconds"
          region = var.region
          period = 300
          view   = "timeSeries"
          metrics = [
            concat([p.namespace, "CostPerWorkflowUSD"], local.dims[k], [{ stat = "Average" }]),
            concat([p.namespace, "LambdaGBSeconds"], local.dims[k], [{ stat = "Sum", yAxis = "right" }]),
          ]
        }
      },
    ]
  ])

  shared_widgets = [
    {
      type = "metric", x = 0, y = 25, width = 12, height = 6
      properties = {
        title  = "Both patterns: cost per workflow (USD, average)"
        region = var.region
        stat   = "Average"
        period = 3600
        view   = "timeSeries"
        metrics = [for k, p in local.patterns :
          concat([p.namespace, "CostPerWorkflowUSD"], local.dims[k], [{ label = p.label }])
        ]
      }
    },
    {
      type = "metric", x = 12, y = 25, width = 12, height = 6
      properties = {
        title  = "Dead-letter queues: messages waiting"
        region = var.region
        stat   = "Maximum"
        period = 300
        view   = "timeSeries"
        metrics = [for label, name in var.dead_letter_queue_names :
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", name, { label = label }]
        ]
      }
    },
  ]
}

# --- alert topic -----------------------------------------------------------------------

resource "aws_sns_topic" "alerts" {
  # checkov:skip=CKV_AWS_26:EventBridge rules and CloudWatch alarms cannot publish to a topic encrypted with the AWS managed key; messages carry only execution names and alarm states
  name = "${var.name_prefix}-alerts"
  tags = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alert_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

data "aws_iam_policy_document" "alerts" {
  statement {
    sid       = "CloudWatchAlarms"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }

  dynamic "statement" {
    for_each = length(var.event_rule_arns) == 0 ? [] : [var.event_rule_arns]
    content {
      sid       = "EventBridgeRules"
      actions   = ["sns:Publish"]
      resources = [aws_sns_topic.alerts.arn]

      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }

      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = statement.value
      }
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.alerts.json
}

# --- dashboard ---------------------------------------------------------------------------

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${var.name_prefix}-comparison"
  dashboard_body = jsonencode({ widgets = concat(local.column_widgets, local.shared_widgets) })
}

# --- alarms ------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "failed" {
  for_each = local.patterns

  alarm_name          = "${var.name_prefix}-${each.value.workflow_type}-executions-failed"
  alarm_description   = "${each.value.label}: executions ended failed"
  namespace           = each.value.namespace
  metric_name         = "ExecutionsFailed"
  dimensions          = { workflowType = each.value.workflow_type, service = var.service_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.failed_executions_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

# Failures the workflow code never saw (the state machine itself failed or timed out).
resource "aws_cloudwatch_metric_alarm" "state_machine_failed" {
  alarm_name          = "${var.name_prefix}-state-machine-failed"
  alarm_description   = "Step Functions: executions failed, timed out or aborted"
  comparison_operator = "GreaterThanOrEqualToThreshold"
  evaluation_periods  = 1
  threshold           = var.failed_executions_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags

  metric_query {
    id          = "total"
    expression  = "FILL(failed, 0) + FILL(timedout, 0) + FILL(aborted, 0)"
    label       = "Executions not succeeded"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { failed = "ExecutionsFailed", timedout = "ExecutionsTimedOut", aborted = "ExecutionsAborted" }
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/States"
        metric_name = metric_query.value
        dimensions  = { StateMachineArn = var.state_machine_arn }
        stat        = "Sum"
        period      = 300
      }
    }
  }
}

# Durable executions that ended failed or timed out, as Lambda counts executions:
# AWS/Lambda DurableExecutionFailed and DurableExecutionTimedOut (Sum per period; AWS
# Lambda developer guide, "Monitoring durable functions",
# https://docs.aws.amazon.com/lambda/latest/dg/durable-monitoring.html). Not Errors: that
# metric counts invocations, and one durable execution is many invocations (every replay),
# so it both over-counts one failed execution and fires on a replay whose execution still
# succeeds. One alarm summing both metrics (metric math), as state_machine_failed sums the
# state machine's failed, timed-out and aborted executions: the same rule for both
# patterns, one alarm per pattern for "executions the service ended badly". Dimension
# FunctionName: every version and alias of the function (EventBridge starts executions on
# the alias, each deploy moves it to a new version).
resource "aws_cloudwatch_metric_alarm" "durable_failed" {
  alarm_name          = "${var.name_prefix}-orchestrator-failed"
  alarm_description   = "Durable functions: executions failed or timed out"
  comparison_operator = "GreaterThanOrEqualToThreshold"
  evaluation_periods  = 1
  threshold           = var.failed_executions_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags

  metric_query {
    id          = "total"
    expression  = "FILL(failed, 0) + FILL(timedout, 0)"
    label       = "Durable executions not succeeded"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = local.durable_failure_metrics
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/Lambda"
        metric_name = metric_query.value
        dimensions  = { FunctionName = var.orchestrator_function_name }
        stat        = "Sum"
        period      = 300
      }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "duration" {
  for_each = local.patterns

  alarm_name          = "${var.name_prefix}-${each.value.workflow_type}-duration"
  alarm_description   = "${each.value.label}: p90 execution duration above ${var.duration_threshold_ms} ms"
  namespace           = each.value.namespace
  metric_name         = "ExecutionDuration"
  dimensions          = { workflowType = each.value.workflow_type, service = var.service_name }
  extended_statistic  = "p90"
  period              = 3600
  evaluation_periods  = 1
  threshold           = var.duration_threshold_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = var.dead_letter_queue_names

  alarm_name          = "${var.name_prefix}-${each.key}-dlq-depth"
  alarm_description   = "Events waiting in the ${each.key} dead-letter queue"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.dlq_depth_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}
