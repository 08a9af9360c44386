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
  description = "HeartbeatSeconds of the state machine's validation task; null (the default) renders none. Nothing in the product sends heartbeats, so set it only with a heartbeat sender: the wait ends at the earlier of the two."
  type        = number
  default     = null

  # The States Language wants HeartbeatSeconds smaller than TimeoutSeconds.
  validation {
    condition     = var.validation_heartbeat_seconds == null ? true : var.validation_heartbeat_seconds >= 1 && var.validation_heartbeat_seconds < var.validation_timeout_seconds
    error_message = "validation_heartbeat_seconds (${coalesce(var.validation_heartbeat_seconds, 0)}) must be null or at least 1 and below validation_timeout_seconds (${var.validation_timeout_seconds}): the States Language wants HeartbeatSeconds smaller than TimeoutSeconds."
  }
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

  validation {
    condition     = var.image_processor_timeout >= 1 && var.image_processor_timeout <= 900
    error_message = "image_processor_timeout must be between 1 and 900 seconds (the Lambda maximum)."
  }
}

variable "execution_timeout_seconds" {
  description = "Longest one execution of either pattern may run, seconds: the state machine's top-level TimeoutSeconds and the orchestrator's durable_config.execution_timeout, so a long review ends both patterns alike."
  type        = number
  default     = 86400

  # The durable limit is 1..31622400 s (366 days); Step Functions Standard ends an
  # execution after one year (31536000 s). One rule for both: the smaller.
  validation {
    condition     = var.execution_timeout_seconds >= 1 && var.execution_timeout_seconds <= 31536000
    error_message = "execution_timeout_seconds must be between 1 and 31536000 seconds: durable_config.execution_timeout allows 1..31622400 (366 days) and a Step Functions Standard execution runs at most one year (31536000)."
  }

  validation {
    condition     = var.execution_timeout_seconds > var.validation_timeout_seconds + local.execution_margin_seconds
    error_message = "execution_timeout_seconds (${var.execution_timeout_seconds}) must exceed validation_timeout_seconds (${var.validation_timeout_seconds}) plus ${local.execution_margin_seconds} s (local.execution_margin_seconds: the worst case of the steps around the review, from image_processor_timeout and the retry policies), or a long review times out the whole execution instead of continuing with the detected data."
  }
}

variable "durable_retention_period" {
  description = "durable_config.retention_period of the orchestrator, days."
  type        = number
  default     = 14

  validation {
    condition     = var.durable_retention_period >= 1 && var.durable_retention_period <= 90
    error_message = "durable_retention_period must be between 1 and 90 days (durable_config.retention_period)."
  }
}

variable "log_retention_days" {
  description = "Retention of every log group."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
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
