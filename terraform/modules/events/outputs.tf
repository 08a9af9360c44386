output "upload_rule_arn" {
  description = "ARN of the rule that starts both patterns."
  value       = aws_cloudwatch_event_rule.upload.arn
}

output "upload_rule_name" {
  description = "Name of the rule that starts both patterns."
  value       = aws_cloudwatch_event_rule.upload.name
}

output "upload_event_pattern" {
  description = "The upload rule's event pattern (JSON)."
  value       = aws_cloudwatch_event_rule.upload.event_pattern
}

output "alert_rule_arns" {
  description = "Rules that publish to the alert topic (the topic policy allows exactly these)."
  value       = [aws_cloudwatch_event_rule.sf_failed.arn, aws_cloudwatch_event_rule.durable_failed.arn]
}

output "dead_letter_queue_names" {
  description = "Dead-letter queue name per target group."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.name }
}

output "dead_letter_queue_urls" {
  description = "Dead-letter queue URL per target group."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.id }
}
