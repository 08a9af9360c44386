output "bucket_name" {
  description = "Uploads bucket (put images under uploads/)."
  value       = module.storage.bucket_name
}

output "table_name" {
  description = "The table both patterns write to."
  value       = module.storage.table_name
}

output "state_machine_arn" {
  description = "ARN of the Step Functions state machine."
  value       = module.state_machine.arn
}

output "durable_function_name" {
  description = "Name of the durable function."
  value       = module.orchestrator.function_name
}

output "durable_alias_arn" {
  description = "ARN of the durable function's alias (start executions here)."
  value       = module.orchestrator.alias_arn
}

output "api_url" {
  description = "Base URL of the validation page and API."
  value       = module.validation.api_url
}

output "notification_topic_arn" {
  description = "Topic told about new validation tasks."
  value       = module.validation.notification_topic_arn
}

output "alert_topic_arn" {
  description = "Topic for alarms and failed executions."
  value       = module.observability.alert_topic_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard comparing both patterns."
  value       = module.observability.dashboard_name
}

output "dead_letter_queue_urls" {
  description = "Dead-letter queue URL per EventBridge target group."
  value       = module.events.dead_letter_queue_urls
}

output "function_names" {
  description = "Name of every Step Functions task function."
  value       = { for k, m in module.functions : k => m.function_name }
}

output "artifacts" {
  description = "sha256 of each deployed artifact, as the manifest states it (to check promotion)."
  value       = { for name in local.required_artifacts : name => try(local.artifacts[name].sha256, null) }
}

output "state_machine_definition" {
  description = "The rendered ASL of the state machine."
  value       = module.state_machine.definition
}

output "upload_event_pattern" {
  description = "Event pattern of the rule that starts both patterns."
  value       = module.events.upload_event_pattern
}

output "execution_margin_seconds" {
  description = "Seconds execution_timeout_seconds must exceed validation_timeout_seconds by (the steps around the review, worst case)."
  value       = local.execution_margin_seconds
}
