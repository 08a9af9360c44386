variable "layer_name" {
  description = "Name of the layer."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.layer_name))
    error_message = "layer_name must be 1-64 characters of A-Z a-z 0-9 _ -."
  }
}

variable "description" {
  description = "What the layer carries."
  type        = string
  default     = "albums domain and AWS adapters with their locked dependencies"
}

variable "filename" {
  description = "Path of dist/shared_layer.zip (layout python/...)."
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

variable "compatible_runtimes" {
  description = "Runtimes the layer is built for."
  type        = list(string)
  default     = ["python3.13"]
}

variable "compatible_architectures" {
  description = "Architectures the layer is built for."
  type        = list(string)
  default     = ["arm64"]
}
