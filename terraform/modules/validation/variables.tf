variable "name_prefix" {
  description = "Prefix of every name (e.g. albums-dev)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]{1,40}$", var.name_prefix))
    error_message = "name_prefix must be 1-40 lowercase letters, digits or hyphens."
  }
}

variable "reviewer_email" {
  description = "Address subscribed to validation requests; null subscribes nobody."
  type        = string
  default     = null

  validation {
    condition     = var.reviewer_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.reviewer_email))
    error_message = "reviewer_email must be an e-mail address or null."
  }
}

variable "secret_recovery_window_days" {
  description = "Days a deleted signing secret can be restored (0 deletes at once, for dev)."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "create_api" {
  description = "Create the validation API function and its URL."
  type        = bool
  default     = true
}

variable "api_artifact" {
  description = "The validation_api entry of dist/manifest.json: zip path, handler and base64 SHA-256."
  type = object({
    filename         = string
    handler          = string
    source_code_hash = string
  })
  default = null
}

variable "layer_arns" {
  description = "Layer version ARNs for the API function."
  type        = list(string)
  default     = []
}

variable "table_arn" {
  description = "ARN of the table."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of the uploads bucket (pre-signed image links)."
  type        = string
}

variable "upload_prefix" {
  description = "Key prefix of uploads."
  type        = string
  default     = "uploads/"
}

variable "orchestrator_function_arn" {
  description = "Unqualified ARN of the durable function whose callbacks the API answers."
  type        = string
}

variable "environment_variables" {
  description = "Environment variables shared by every function (table, bucket, ...)."
  type        = map(string)
  default     = {}
}

variable "memory_size" {
  description = "Memory of the API function in MB."
  type        = number
  default     = 1024
}

variable "log_retention_days" {
  description = "Retention of the API function's log group."
  type        = number
  default     = 30
}

variable "log_level" {
  description = "Application log level."
  type        = string
  default     = "INFO"
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
