output "alert_topic_arn" {
  description = "SNS topic for alarms and failed executions."
  value       = aws_sns_topic.alerts.arn
}

output "dashboard_name" {
  description = "Name of the comparison dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "alarm_names" {
  description = "Every alarm this module created."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.failed : a.alarm_name],
    [aws_cloudwatch_metric_alarm.state_machine_failed.alarm_name, aws_cloudwatch_metric_alarm.durable_failed.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.duration : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.dlq_depth : a.alarm_name],
  )
}
