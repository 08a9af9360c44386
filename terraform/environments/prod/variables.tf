# Defaults are this environment's settings; override in terraform.tfvars or with -var.

variable "environment" {
  description = "Environment name, part of every resource name."
  type        = string
  default     = "prod"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "artifacts_dir" {
  description = "Output of `make package` (zips + manifest.json); CI passes the downloaded build."
  type        = string
  default     = "../../../dist"
}

variable "bedrock_model_id" {
  description = "Vision model or inference profile id."
  type        = string
  default     = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
}

variable "validation_timeout_seconds" {
  description = "How long a validation task waits for a reviewer."
  type        = number
  default     = 3600
}

variable "memory_size" {
  description = "Memory of every function (MB)."
  type        = number
  default     = 1024
}

variable "durable_execution_timeout" {
  description = "Longest durable execution (s)."
  type        = number
  default     = 86400
}

variable "durable_retention_period" {
  description = "Days a finished durable execution is kept."
  type        = number
  default     = 14
}

variable "log_retention_days" {
  description = "Retention of every log group (days)."
  type        = number
  default     = 90
}

variable "log_level" {
  description = "Application log level."
  type        = string
  default     = "INFO"
}

variable "alert_email" {
  description = "Address for alarms and failed executions (null: none)."
  type        = string
  default     = null
}

variable "reviewer_email" {
  description = "Address for validation requests (null: none)."
  type        = string
  default     = null
}

variable "failed_executions_threshold" {
  description = "Failed executions per 5 minutes that raise an alarm."
  type        = number
  default     = 1
}

variable "duration_threshold_ms" {
  description = "p90 execution duration (ms) that raises an alarm."
  type        = number
  default     = 5400000
}

variable "dlq_depth_threshold" {
  description = "Dead-letter queue depth that raises an alarm."
  type        = number
  default     = 1
}

variable "force_destroy" {
  description = "Let destroy remove a non-empty uploads bucket."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Protect the table from deletion."
  type        = bool
  default     = true
}

variable "secret_recovery_window_days" {
  description = "Recovery window of the signing secret (0: delete at once)."
  type        = number
  default     = 30
}

variable "noncurrent_version_days" {
  description = "Days an overwritten upload version is kept."
  type        = number
  default     = 30
}
