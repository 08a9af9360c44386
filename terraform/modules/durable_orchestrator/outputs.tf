output "function_name" {
  description = "Name of the durable function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "Unqualified ARN of the function."
  value       = aws_lambda_function.this.arn
}

output "version" {
  description = "Version published by the last deploy."
  value       = aws_lambda_function.this.version
}

output "alias_name" {
  description = "Name of the alias EventBridge invokes."
  value       = aws_lambda_alias.live.name
}

output "alias_arn" {
  description = "ARN of the alias EventBridge invokes (start executions here)."
  value       = aws_lambda_alias.live.arn
}

output "role_arn" {
  description = "ARN of the function's role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "Name of the function's log group."
  value       = aws_cloudwatch_log_group.this.name
}
