variable "name_prefix" {
  description = "Prefix of every rule, queue and role name (e.g. albums-dev)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]{1,40}$", var.name_prefix))
    error_message = "name_prefix must be 1-40 lowercase letters, digits or hyphens."
  }
}

variable "bucket_name" {
  description = "Uploads bucket whose \"Object Created\" events start both patterns."
  type        = string
}

variable "upload_prefix" {
  description = "Key prefix of uploads."
  type        = string
  default     = "uploads/"
}

variable "image_suffixes" {
  description = "Key suffixes that start a workflow (both cases are matched)."
  type        = list(string)
  default     = [".jpg", ".jpeg", ".png", ".webp"]

  validation {
    condition     = length(var.image_suffixes) > 0 && alltrue([for s in var.image_suffixes : startswith(s, ".")])
    error_message = "image_suffixes must be a non-empty list of extensions starting with '.'."
  }
}

variable "state_machine_arn" {
  description = "ARN of the Step Functions state machine (target of the upload rule)."
  type        = string
}

variable "orchestrator_function_name" {
  description = "Name of the durable function."
  type        = string
}

variable "orchestrator_function_arn" {
  description = "Unqualified ARN of the durable function (its status events carry it version-qualified: every version is matched)."
  type        = string
}

variable "orchestrator_alias_name" {
  description = "Alias of the durable function that EventBridge invokes."
  type        = string
}

variable "orchestrator_alias_arn" {
  description = "ARN of that alias (target of the upload rule)."
  type        = string
}

variable "execution_recorder_function_name" {
  description = "Function that records the end of every execution of both patterns."
  type        = string
}

variable "execution_recorder_function_arn" {
  description = "ARN of that function."
  type        = string
}

variable "alert_topic_arn" {
  description = "SNS topic told about failed, timed-out and aborted executions."
  type        = string
}

variable "maximum_event_age_seconds" {
  description = "How long EventBridge keeps retrying a delivery before it goes to the dead-letter queue."
  type        = number
  default     = 3600

  validation {
    condition     = var.maximum_event_age_seconds >= 60 && var.maximum_event_age_seconds <= 86400
    error_message = "maximum_event_age_seconds must be between 60 and 86400."
  }
}

variable "maximum_retry_attempts" {
  description = "Delivery retries before the dead-letter queue."
  type        = number
  default     = 8

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 185
    error_message = "maximum_retry_attempts must be between 0 and 185."
  }
}

variable "dlq_retention_seconds" {
  description = "How long an undelivered event stays in its dead-letter queue."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_retention_seconds >= 60 && var.dlq_retention_seconds <= 1209600
    error_message = "dlq_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
