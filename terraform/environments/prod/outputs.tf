# Read by the CLI: `terraform output -json`.

output "region" {
  description = "Region of the deployment."
  value       = var.region
}

output "bucket_name" {
  description = "Uploads bucket (put images under uploads/)."
  value       = module.album_registration.bucket_name
}

output "table_name" {
  description = "The table both patterns write to."
  value       = module.album_registration.table_name
}

output "state_machine_arn" {
  description = "ARN of the Step Functions state machine."
  value       = module.album_registration.state_machine_arn
}

output "durable_function_name" {
  description = "Name of the durable function."
  value       = module.album_registration.durable_function_name
}

output "durable_alias_arn" {
  description = "ARN of the durable function's alias."
  value       = module.album_registration.durable_alias_arn
}

output "api_url" {
  description = "Base URL of the validation page and API."
  value       = module.album_registration.api_url
}

output "dashboard_name" {
  description = "CloudWatch dashboard comparing both patterns."
  value       = module.album_registration.dashboard_name
}

output "alert_topic_arn" {
  description = "Topic for alarms and failed executions."
  value       = module.album_registration.alert_topic_arn
}

output "dead_letter_queue_urls" {
  description = "Dead-letter queue URL per EventBridge target group."
  value       = module.album_registration.dead_letter_queue_urls
}

output "artifacts" {
  description = "sha256 of every deployed artifact (the same in dev and prod for one build)."
  value       = module.album_registration.artifacts
}
