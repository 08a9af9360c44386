terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # durable_config on aws_lambda_function needs 6.25; 6.28 is the stack's floor.
      version = ">= 6.28, < 7.0"
    }
  }
}
