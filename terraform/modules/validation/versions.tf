terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # invoked_via_function_url on aws_lambda_permission needs 6.28 or later.
      version = ">= 6.28, < 7.0"
    }
  }
}
