locals {
  # The margin modules/album_registration requires between the review and the execution
  # timeout (its local.execution_margin_seconds: the steps around the review, worst case),
  # for the image_processor_timeout this environment leaves at the module's 180 s:
  # 4 x 180 + 14 + 7 x (4 x 30 + 7). tests/defaults.tftest.hcl checks that both agree.
  execution_margin_seconds = 1623
}

module "album_registration" {
  source = "../../modules/album_registration"

  name_prefix   = "albums-${var.environment}"
  region        = var.region
  artifacts_dir = var.artifacts_dir

  bedrock_model_id             = var.bedrock_model_id
  validation_timeout_seconds   = var.validation_timeout_seconds
  validation_heartbeat_seconds = var.validation_heartbeat_seconds
  memory_size                  = var.memory_size
  execution_timeout_seconds    = var.execution_timeout_seconds
  durable_retention_period     = var.durable_retention_period
  log_retention_days           = var.log_retention_days
  log_level                    = var.log_level
  alert_email                  = var.alert_email
  reviewer_email               = var.reviewer_email
  failed_executions_threshold  = var.failed_executions_threshold
  duration_threshold_ms        = var.duration_threshold_ms
  dlq_depth_threshold          = var.dlq_depth_threshold
  force_destroy                = var.force_destroy
  deletion_protection          = var.deletion_protection
  secret_recovery_window_days  = var.secret_recovery_window_days
  noncurrent_version_days      = var.noncurrent_version_days
}
