# Defaults are this environment's settings; override in terraform.tfvars or with -var.

variable "environment" {
  description = "Environment name, part of every resource name."
  type        = string
  default     = "dev"
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

  validation {
    condition     = var.validation_timeout_seconds >= 1 && var.validation_timeout_seconds <= 604800
    error_message = "validation_timeout_seconds must be between 1 second and 7 days."
  }
}

variable "validation_heartbeat_seconds" {
  description = "HeartbeatSeconds of the state machine's review wait; null (the default) renders none, as nothing sends heartbeats."
  type        = number
  default     = null

  # The States Language wants HeartbeatSeconds smaller than TimeoutSeconds.
  validation {
    condition     = var.validation_heartbeat_seconds == null ? true : var.validation_heartbeat_seconds >= 1 && var.validation_heartbeat_seconds < var.validation_timeout_seconds
    error_message = "validation_heartbeat_seconds (${coalesce(var.validation_heartbeat_seconds, 0)}) must be null or at least 1 and below validation_timeout_seconds (${var.validation_timeout_seconds}): the States Language wants HeartbeatSeconds smaller than TimeoutSeconds."
  }
}

variable "memory_size" {
  description = "Memory of every function (MB)."
  type        = number
  default     = 1024
}

variable "execution_timeout_seconds" {
  description = "Longest execution of either pattern (s): the state machine's TimeoutSeconds and the durable execution_timeout."
  type        = number
  default     = 86400

  validation {
    condition     = var.execution_timeout_seconds >= 1 && var.execution_timeout_seconds <= 31536000
    error_message = "execution_timeout_seconds must be between 1 and 31536000 seconds: durable_config.execution_timeout allows 1..31622400 (366 days) and a Step Functions Standard execution runs at most one year (31536000)."
  }

  validation {
    condition     = var.execution_timeout_seconds > var.validation_timeout_seconds + local.execution_margin_seconds
    error_message = "execution_timeout_seconds (${var.execution_timeout_seconds}) must exceed validation_timeout_seconds (${var.validation_timeout_seconds}) plus ${local.execution_margin_seconds} s (local.execution_margin_seconds: the worst case of the steps around the review), or a long review times out the whole execution instead of continuing with the detected data."
  }
}

variable "durable_retention_period" {
  description = "Days a finished durable execution is kept."
  type        = number
  default     = 14

  validation {
    condition     = var.durable_retention_period >= 1 && var.durable_retention_period <= 90
    error_message = "durable_retention_period must be between 1 and 90 days (durable_config.retention_period)."
  }
}

variable "log_retention_days" {
  description = "Retention of every log group (days)."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "log_level" {
  description = "Application log level."
  type        = string
  default     = "DEBUG"
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
  default     = 3
}

variable "duration_threshold_ms" {
  description = "p90 execution duration (ms) that raises an alarm."
  type        = number
  default     = 7200000
}

variable "dlq_depth_threshold" {
  description = "Dead-letter queue depth that raises an alarm."
  type        = number
  default     = 1
}

variable "force_destroy" {
  description = "Let destroy remove a non-empty uploads bucket."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the table from deletion."
  type        = bool
  default     = false
}

variable "secret_recovery_window_days" {
  description = "Recovery window of the signing secret (0: delete at once)."
  type        = number
  default     = 0
}

variable "noncurrent_version_days" {
  description = "Days an overwritten upload version is kept."
  type        = number
  default     = 7
}
