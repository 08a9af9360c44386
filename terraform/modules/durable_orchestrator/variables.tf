variable "function_name" {
  description = "Name of the durable function (also names its role and log group)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 characters of A-Z a-z 0-9 _ -."
  }
}

variable "filename" {
  description = "Path of dist/orchestrator.zip."
  type        = string
}

variable "source_code_hash" {
  description = "Base64 SHA-256 of the zip, from the manifest (sha256_base64)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+/]{43}=$", var.source_code_hash))
    error_message = "source_code_hash must be a base64-encoded SHA-256 (44 characters ending in '=')."
  }
}

variable "handler" {
  description = "Handler from the manifest."
  type        = string
}

variable "memory_size" {
  description = "Memory in MB."
  type        = number
  default     = 1024

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "timeout" {
  description = "Timeout of one invocation (one replay) in seconds; the whole execution is bounded by execution_timeout."
  type        = number
  default     = 300

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "execution_timeout" {
  description = "Longest a durable execution may run, in seconds (durable_config.execution_timeout)."
  type        = number
  default     = 86400

  validation {
    condition     = var.execution_timeout >= 1 && var.execution_timeout <= 31622400
    error_message = "execution_timeout must be between 1 second and 366 days."
  }
}

variable "retention_period" {
  description = "Days a finished execution's history is kept (durable_config.retention_period)."
  type        = number
  default     = 14

  validation {
    condition     = var.retention_period >= 1 && var.retention_period <= 90
    error_message = "retention_period must be between 1 and 90 days."
  }
}

variable "alias_name" {
  description = "Alias that EventBridge invokes (durable functions are invoked through a version or alias)."
  type        = string
  default     = "live"
}

variable "layer_arns" {
  description = "Layer version ARNs to attach."
  type        = list(string)
  default     = []
}

variable "environment_variables" {
  description = "Environment variables of the function."
  type        = map(string)
  default     = {}
}

variable "policy_statements" {
  description = "IAM statements beyond logs, traces and the durable checkpoint actions. No wildcard actions."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
  }))
  default = []

  validation {
    condition = alltrue([
      for s in var.policy_statements : alltrue([for a in s.actions : !strcontains(a, "*")])
    ])
    error_message = "policy_statements must not use wildcard actions."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts."
  }
}

variable "log_level" {
  description = "Application log level (POWERTOOLS_LOG_LEVEL)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARN or ERROR."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}

variable "region" {
  description = "Region the function lives in (builds the ARNs the role is granted on)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must look like us-east-1."
  }
}
