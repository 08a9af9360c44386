provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "album-registration"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
