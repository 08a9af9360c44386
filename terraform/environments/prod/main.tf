module "album_registration" {
  source = "../../modules/album_registration"

  name_prefix   = "albums-${var.environment}"
  region        = var.region
  artifacts_dir = var.artifacts_dir

  bedrock_model_id            = var.bedrock_model_id
  validation_timeout_seconds  = var.validation_timeout_seconds
  memory_size                 = var.memory_size
  durable_execution_timeout   = var.durable_execution_timeout
  durable_retention_period    = var.durable_retention_period
  log_retention_days          = var.log_retention_days
  log_level                   = var.log_level
  alert_email                 = var.alert_email
  reviewer_email              = var.reviewer_email
  failed_executions_threshold = var.failed_executions_threshold
  duration_threshold_ms       = var.duration_threshold_ms
  dlq_depth_threshold         = var.dlq_depth_threshold
  force_destroy               = var.force_destroy
  deletion_protection         = var.deletion_protection
  secret_recovery_window_days = var.secret_recovery_window_days
  noncurrent_version_days     = var.noncurrent_version_days
}
