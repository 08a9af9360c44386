output "arn" {
  description = "ARN of this layer version (attach this one)."
  value       = aws_lambda_layer_version.this.arn
}

output "version" {
  description = "Version number of the layer."
  value       = aws_lambda_layer_version.this.version
}
