terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The stack's floor: durable_config (6.25) and invoked_via_function_url (6.28).
      version = ">= 6.28, < 7.0"
    }
  }
}
