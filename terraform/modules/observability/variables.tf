variable "name_prefix" {
  description = "Prefix of the dashboard, alarm and topic names (e.g. albums-dev)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]{1,40}$", var.name_prefix))
    error_message = "name_prefix must be 1-40 lowercase letters, digits or hyphens."
  }
}

variable "region" {
  description = "Region of the metrics shown on the dashboard."
  type        = string
}

variable "service_name" {
  description = "Value of the `service` dimension (POWERTOOLS_SERVICE_NAME)."
  type        = string
  default     = "album-registration"
}

variable "namespaces" {
  description = "EMF metric namespace per pattern."
  type = object({
    step_functions    = string
    durable_functions = string
  })
  default = {
    step_functions    = "AlbumRegistration/StepFunctions"
    durable_functions = "AlbumRegistration/DurableFunctions"
  }
}

variable "state_machine_arn" {
  description = "ARN of the state machine (AWS/States metrics)."
  type        = string
}

variable "orchestrator_function_name" {
  description = "Name of the durable function (AWS/Lambda metrics)."
  type        = string
}

variable "dead_letter_queue_names" {
  description = "Dead-letter queues to chart and alarm on, by label."
  type        = map(string)
}

variable "alert_email" {
  description = "Address subscribed to the alert topic; null subscribes nobody."
  type        = string
  default     = null

  validation {
    condition     = var.alert_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an e-mail address or null."
  }
}

variable "event_rule_arns" {
  description = "EventBridge rules allowed to publish to the alert topic."
  type        = list(string)
  default     = []
}

variable "failed_executions_threshold" {
  description = "Failed executions of one pattern in 5 minutes that raise an alarm."
  type        = number
  default     = 1

  validation {
    condition     = var.failed_executions_threshold >= 1
    error_message = "failed_executions_threshold must be at least 1."
  }
}

variable "duration_threshold_ms" {
  description = "p90 execution duration (ms, includes the human validation wait) above which the duration alarm fires."
  type        = number
  default     = 7200000

  validation {
    condition     = var.duration_threshold_ms > 0
    error_message = "duration_threshold_ms must be positive."
  }
}

variable "dlq_depth_threshold" {
  description = "Messages in a dead-letter queue that raise an alarm."
  type        = number
  default     = 1

  validation {
    condition     = var.dlq_depth_threshold >= 1
    error_message = "dlq_depth_threshold must be at least 1."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
