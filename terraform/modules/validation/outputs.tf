output "notification_topic_arn" {
  description = "Topic told about every new validation task."
  value       = aws_sns_topic.notifications.arn
}

output "signing_secret_arn" {
  description = "Secret holding the HMAC key for validation links."
  value       = aws_secretsmanager_secret.signing.arn
}

output "api_url" {
  description = "Base URL of the validation page and API (null without the API)."
  value       = var.create_api ? aws_lambda_function_url.api[0].function_url : null
}

output "api_function_name" {
  description = "Name of the API function (null without the API)."
  value       = var.create_api ? module.api[0].function_name : null
}
