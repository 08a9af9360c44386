variable "name_prefix" {
  description = "Prefix of every resource name; one per environment (e.g. albums-dev)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,24}$", var.name_prefix))
    error_message = "name_prefix must be 2-25 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "AWS region of the deployment (the provider's region)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must look like us-east-1."
  }
}

variable "artifacts_dir" {
  description = "Directory written by `make package` (zips + manifest.json). The same build is promoted from dev to prod."
  type        = string
}

variable "state_machine_template" {
  description = "ASL template rendered with templatefile(); null uses state_machine/album_registration.asl.json.tftpl of this repository."
  type        = string
  default     = null
}

variable "bucket_name" {
  description = "Name of the uploads bucket; null derives <name_prefix>-uploads-<account id>."
  type        = string
  default     = null
}

variable "bedrock_model_id" {
  description = "Bedrock model or inference profile id of the vision model."
  type        = string
  default     = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"

  validation {
    condition     = length(trimspace(var.bedrock_model_id)) > 0
    error_message = "bedrock_model_id must not be empty."
  }
}

variable "bedrock_resource_arns" {
  description = "ARNs bedrock:InvokeModel is granted on; empty derives them from bedrock_model_id (the inference profile and its foundation model in every region it routes to)."
  type        = list(string)
  default     = []
}

variable "validation_timeout_seconds" {
  description = "How long a validation task waits for a reviewer before the original data is used."
  type        = number
  default     = 3600

  validation {
    condition     = var.validation_timeout_seconds >= 1 && var.validation_timeout_seconds <= 604800
    error_message = "validation_timeout_seconds must be between 1 second and 7 days."
  }
}

variable "validation_heartbeat_seconds" {
  description = "HeartbeatSeconds of the state machine's validation task; null makes it equal to the timeout (no separate heartbeat deadline)."
  type        = number
  default     = null
}

variable "memory_size" {
  description = "Memory of every function in MB."
  type        = number
  default     = 1024

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "image_processor_timeout" {
  description = "Timeout of the image processor (one Bedrock call with its retries), seconds."
  type        = number
  default     = 180
}

variable "durable_execution_timeout" {
  description = "durable_config.execution_timeout of the orchestrator, seconds."
  type        = number
  default     = 86400
}

variable "durable_retention_period" {
  description = "durable_config.retention_period of the orchestrator, days."
  type        = number
  default     = 14
}

variable "log_retention_days" {
  description = "Retention of every log group."
  type        = number
  default     = 30
}

variable "log_level" {
  description = "Application log level of every function."
  type        = string
  default     = "INFO"
}

variable "alert_email" {
  description = "Address for alarms and failed executions; null subscribes nobody."
  type        = string
  default     = null
}

variable "reviewer_email" {
  description = "Address for validation requests; null subscribes nobody."
  type        = string
  default     = null
}

variable "failed_executions_threshold" {
  description = "Failed executions of one pattern in 5 minutes that raise an alarm."
  type        = number
  default     = 1
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

variable "event_retry_attempts" {
  description = "EventBridge delivery retries before the dead-letter queue."
  type        = number
  default     = 8
}

variable "event_max_age_seconds" {
  description = "EventBridge retry window before the dead-letter queue, seconds."
  type        = number
  default     = 3600
}

variable "force_destroy" {
  description = "Let destroy remove a non-empty uploads bucket (dev)."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Protect the table from deletion (prod)."
  type        = bool
  default     = true
}

variable "secret_recovery_window_days" {
  description = "Recovery window of the signing secret (0 for dev)."
  type        = number
  default     = 7
}

variable "noncurrent_version_days" {
  description = "Days an overwritten upload version is kept."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
