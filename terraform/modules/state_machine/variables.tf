variable "name" {
  description = "Name of the state machine."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,80}$", var.name))
    error_message = "name must be 1-80 characters of A-Z a-z 0-9 _ -."
  }
}

variable "definition_template" {
  description = "Path of the ASL template rendered with templatefile()."
  type        = string
}

variable "definition_vars" {
  description = "Values for the template's placeholders (function ARNs, timeouts); a null value is kept (templatefile() wants every key the template names, and the template tests it with an if directive)."
  type        = map(string)
}

variable "lambda_function_arns" {
  description = "Unqualified ARNs of the functions the state machine invokes (its role may invoke these and nothing else)."
  type        = list(string)

  validation {
    condition     = length(var.lambda_function_arns) > 0
    error_message = "The state machine needs at least one function."
  }
}

variable "table_arn" {
  description = "ARN of the table, for direct DynamoDB integrations in the ASL; null grants none."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the execution log group."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
