terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The stack's floor (6.28), the same in every module and root.
      version = ">= 6.28, < 7.0"
    }
  }
}
