# The whole album-registration stack: both patterns side by side on shared storage.
# Each environment calls this module with its own names, sizes, retention and thresholds.

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id

  # --- artifacts: everything comes from dist/manifest.json ------------------------------
  manifest  = jsondecode(file("${var.artifacts_dir}/manifest.json"))
  artifacts = { for a in local.manifest.artifacts : a.name => a }

  # The state machine writes the table itself (direct DynamoDB integrations): Lambdas run
  # only where code must, the vision call, the reviewer's notification and the prices.
  sf_functions       = ["image_processor", "validation_notifier", "price_estimator", "execution_recorder"]
  required_artifacts = concat(["shared_layer", "orchestrator", "validation_api"], local.sf_functions)
  missing_artifacts  = setsubtract(local.required_artifacts, keys(local.artifacts))

  # try(): a missing artifact is reported by the precondition below, not by an index error.
  artifact = {
    for name in local.required_artifacts : name => {
      filename         = "${var.artifacts_dir}/${try(local.artifacts[name].file, "${name}.zip")}"
      handler          = try(local.artifacts[name].handler, "missing.handler")
      source_code_hash = try(local.artifacts[name].sha256_base64, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    }
  }

  # --- names and the ARNs that would otherwise form cycles -------------------------------
  bucket_name        = coalesce(var.bucket_name, "${var.name_prefix}-uploads-${local.account_id}")
  table_name         = "${var.name_prefix}-albums"
  state_machine_name = "${var.name_prefix}-album-registration"
  orchestrator_name  = "${var.name_prefix}-orchestrator"
  # The durable function needs the API URL, and the API needs the durable function's ARN;
  # the recorder reads executions of both: those ARNs are built from the names.
  orchestrator_arn = "arn:${local.partition}:lambda:${var.region}:${local.account_id}:function:${local.orchestrator_name}"
  execution_arns   = "arn:${local.partition}:states:${var.region}:${local.account_id}:execution:${local.state_machine_name}:*"

  template = coalesce(var.state_machine_template, "${path.module}/../../../state_machine/album_registration.asl.json.tftpl")

  # --- retries: one contract file decides them for both patterns ---------------------------
  # The durable orchestrator reads the same file at run time (albums.workflow_contract).
  # retry_<snake_case step> => the step's ASL Retry array as compact JSON, byte-identical to
  # albums.workflow_contract.asl_retry_variables() (local mode renders the template with it):
  # ErrorEquals is the policy's errors, then the integration's service errors. Steps without
  # a policy (the Map, whose iterations retry) get no variable.
  workflow_contract = jsondecode(file("${path.module}/../../../shared_layer/albums/data/workflow_contract.json"))
  asl_retry_variables = {
    for name, step in local.workflow_contract.steps :
    "retry_${lower(replace(name, "/([a-z0-9])([A-Z])/", "$${1}_$${2}"))}" => jsonencode([{
      ErrorEquals     = concat(local.workflow_contract.policies[step.policy].errors, local.workflow_contract.integrationErrors[step.integration])
      IntervalSeconds = local.workflow_contract.policies[step.policy].intervalSeconds
      MaxAttempts     = local.workflow_contract.policies[step.policy].retries
      BackoffRate     = local.workflow_contract.policies[step.policy].backoffRate
      MaxDelaySeconds = local.workflow_contract.policies[step.policy].maxDelaySeconds
      JitterStrategy  = local.workflow_contract.policies[step.policy].jitter
    }]) if step.policy != null
  }

  # --- one execution timeout for both patterns --------------------------------------------
  # var.execution_timeout_seconds is the state machine's TimeoutSeconds and the durable
  # function's durable_config.execution_timeout. The review (validation_timeout_seconds) is
  # only part of an execution: this margin is the worst case of the rest, so a review that
  # runs to its timeout still continues with the detected data instead of timing the whole
  # execution out. Every step is a Lambda call bounded by its timeout, retried 3 times
  # (4 attempts) with backoff 1 s (or 2 s for the vision call) x rate 2: 7 s (14 s) of
  # waiting. The longest path: ProcessImage, then seven 30 s steps: Accept,
  # StoreInitialData, the notifier's failed attempts before WaitForValidation waits,
  # Apply*Data, one round of EstimatePrices (its six run in parallel), StoreResults and,
  # when one of those failed, RecordFailure. The durable function runs the same steps with
  # the same retry counts. Default: 4 x 180 + 14 + 7 x (4 x 30 + 7) = 1623 s.
  step_attempts            = 4
  step_timeout_seconds     = 30
  execution_margin_seconds = local.step_attempts * var.image_processor_timeout + 14 + 7 * (local.step_attempts * local.step_timeout_seconds + 7)

  # --- Bedrock: an inference profile routes to the foundation model in several regions ----
  profile_prefixes = ["us.", "eu.", "apac.", "global.", "jp.", "au.", "ca."]
  model_is_profile = anytrue([for p in local.profile_prefixes : startswith(var.bedrock_model_id, p)])
  model_parts      = split(".", var.bedrock_model_id)
  foundation_model = local.model_is_profile ? join(".", slice(local.model_parts, 1, length(local.model_parts))) : var.bedrock_model_id
  bedrock_arns = length(var.bedrock_resource_arns) > 0 ? var.bedrock_resource_arns : (
    local.model_is_profile ? [
      "arn:${local.partition}:bedrock:${var.region}:${local.account_id}:inference-profile/${var.bedrock_model_id}",
      "arn:${local.partition}:bedrock:*::foundation-model/${local.foundation_model}",
    ] : ["arn:${local.partition}:bedrock:${var.region}::foundation-model/${var.bedrock_model_id}"]
  )

  # --- IAM statements shared by several functions -----------------------------------------
  read_uploads = {
    sid       = "ReadUploads"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${module.storage.bucket_arn}/uploads/*"]
  }
  invoke_model = {
    sid       = "InvokeVisionModel"
    actions   = ["bedrock:InvokeModel"]
    resources = local.bedrock_arns
  }
  # DynamoDB authorizes each item of a transaction by that item's own action (a Put needs
  # PutItem, an Update UpdateItem); "dynamodb:TransactWriteItems" grants nothing.
  store_items = {
    sid = "TableItems"
    # What the workflow's steps call (make test's IAM coverage check records it): no
    # function queries GSI1 or batch-writes; listing is the operator CLI's job.
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [module.storage.table_arn]
  }
  publish_notifications = {
    sid       = "PublishValidationRequests"
    actions   = ["sns:Publish"]
    resources = [module.validation.notification_topic_arn]
  }
  read_signing_key = {
    sid       = "SigningKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [module.validation.signing_secret_arn]
  }

  # --- environment ------------------------------------------------------------------------
  common_environment = {
    TABLE_NAME                 = module.storage.table_name
    BUCKET_NAME                = module.storage.bucket_name
    BEDROCK_MODEL_ID           = var.bedrock_model_id
    VALIDATION_TIMEOUT_SECONDS = tostring(var.validation_timeout_seconds)
    NOTIFICATION_TOPIC_ARN     = module.validation.notification_topic_arn
    SIGNING_SECRET_ARN         = module.validation.signing_secret_arn
    # Empty without the API (create_api = false): messages then carry no link.
    VALIDATION_BASE_URL     = module.validation.api_url == null ? "" : module.validation.api_url
    POWERTOOLS_SERVICE_NAME = "album-registration"
  }
  sf_environment = merge(local.common_environment, {
    WORKFLOW_TYPE                = "step-functions"
    POWERTOOLS_METRICS_NAMESPACE = "AlbumRegistration/StepFunctions"
  })
  durable_environment = merge(local.common_environment, {
    WORKFLOW_TYPE                = "durable-functions"
    POWERTOOLS_METRICS_NAMESPACE = "AlbumRegistration/DurableFunctions"
  })

  # --- the Step Functions pattern's functions ---------------------------------------------
  sf_function_config = {
    image_processor = {
      description = "Reads six albums from the photo with the Bedrock vision model"
      timeout     = var.image_processor_timeout
      statements  = [local.read_uploads, local.invoke_model]
    }
    validation_notifier = {
      description = "Creates the validation task and notifies the reviewer"
      timeout     = local.step_timeout_seconds
      statements = [
        {
          sid       = "TableItems"
          actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
          resources = [module.storage.table_arn]
        },
        local.publish_notifications,
        local.read_signing_key,
      ]
    }
    price_estimator = {
      description = "Estimates the price of one album (deterministic by default)"
      timeout     = local.step_timeout_seconds
      statements  = []
    }
    execution_recorder = {
      description = "Records how every execution of both patterns ended (duration, transitions, cost)"
      timeout     = 60
      statements = [
        {
          sid       = "ReadStateMachineExecutions"
          actions   = ["states:DescribeExecution", "states:GetExecutionHistory"]
          resources = [local.execution_arns]
        },
        {
          # The history alone gives status, operations and invocations.
          sid       = "ReadDurableExecutions"
          actions   = ["lambda:GetDurableExecutionHistory"]
          resources = [local.orchestrator_arn, "${local.orchestrator_arn}:*"]
        },
        {
          # Both branches read the record before they update it.
          sid       = "UpdateExecutionRecords"
          actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
          resources = [module.storage.table_arn]
        },
      ]
    }
  }

  function_names = { for name in local.sf_functions : name => "${var.name_prefix}-${replace(name, "_", "-")}" }
}

# Fails the plan with the list of what `make package` did not build.
resource "terraform_data" "artifacts_check" {
  input = local.manifest.target

  lifecycle {
    precondition {
      condition     = length(local.missing_artifacts) == 0
      error_message = "dist/manifest.json lacks ${join(", ", sort(tolist(local.missing_artifacts)))}: run `make package`."
    }
    precondition {
      condition     = local.manifest.target.runtime == "python3.13" && local.manifest.target.architecture == "arm64"
      error_message = "The artifacts were not built for python3.13 on arm64."
    }
  }
}

module "storage" {
  source = "../storage"

  bucket_name             = local.bucket_name
  table_name              = local.table_name
  force_destroy           = var.force_destroy
  deletion_protection     = var.deletion_protection
  noncurrent_version_days = var.noncurrent_version_days
  tags                    = var.tags
}

module "layer" {
  source = "../lambda_layer"

  layer_name       = "${var.name_prefix}-albums"
  filename         = local.artifact["shared_layer"].filename
  source_code_hash = local.artifact["shared_layer"].source_code_hash
}

module "validation" {
  source = "../validation"

  name_prefix                 = var.name_prefix
  reviewer_email              = var.reviewer_email
  secret_recovery_window_days = var.secret_recovery_window_days
  api_artifact                = local.artifact["validation_api"]
  layer_arns                  = [module.layer.arn]
  table_arn                   = module.storage.table_arn
  bucket_arn                  = module.storage.bucket_arn
  orchestrator_function_arn   = local.orchestrator_arn
  memory_size                 = var.memory_size
  log_retention_days          = var.log_retention_days
  log_level                   = var.log_level
  tags                        = var.tags

  environment_variables = {
    TABLE_NAME                   = module.storage.table_name
    BUCKET_NAME                  = module.storage.bucket_name
    VALIDATION_TIMEOUT_SECONDS   = tostring(var.validation_timeout_seconds)
    POWERTOOLS_SERVICE_NAME      = "album-registration"
    POWERTOOLS_METRICS_NAMESPACE = "AlbumRegistration/Validation"
  }
}

module "functions" {
  source   = "../lambda_function"
  for_each = local.sf_function_config

  function_name         = local.function_names[each.key]
  description           = each.value.description
  filename              = local.artifact[each.key].filename
  handler               = local.artifact[each.key].handler
  source_code_hash      = local.artifact[each.key].source_code_hash
  timeout               = each.value.timeout
  memory_size           = var.memory_size
  layer_arns            = [module.layer.arn]
  environment_variables = local.sf_environment
  policy_statements     = each.value.statements
  log_retention_days    = var.log_retention_days
  log_level             = var.log_level
  tags                  = var.tags
}

module "state_machine" {
  source = "../state_machine"

  name                = local.state_machine_name
  definition_template = local.template
  definition_vars = merge(local.asl_retry_variables, {
    image_processor_arn        = module.functions["image_processor"].function_arn
    validation_notifier_arn    = module.functions["validation_notifier"].function_arn
    price_estimator_arn        = module.functions["price_estimator"].function_arn
    table_name                 = module.storage.table_name
    uploads_bucket             = module.storage.bucket_name
    validation_timeout_seconds = var.validation_timeout_seconds
    # null renders no HeartbeatSeconds; templatefile() wants the key present all the same.
    validation_heartbeat_seconds = var.validation_heartbeat_seconds
    execution_timeout_seconds    = var.execution_timeout_seconds
  })
  lambda_function_arns = [
    for name in ["image_processor", "validation_notifier", "price_estimator"] :
    module.functions[name].function_arn
  ]
  table_arn          = module.storage.table_arn
  log_retention_days = var.log_retention_days
  tags               = var.tags
}

module "orchestrator" {
  source = "../durable_orchestrator"

  function_name         = local.orchestrator_name
  region                = var.region
  filename              = local.artifact["orchestrator"].filename
  handler               = local.artifact["orchestrator"].handler
  source_code_hash      = local.artifact["orchestrator"].source_code_hash
  memory_size           = var.memory_size
  execution_timeout     = var.execution_timeout_seconds
  retention_period      = var.durable_retention_period
  layer_arns            = [module.layer.arn]
  environment_variables = local.durable_environment
  log_retention_days    = var.log_retention_days
  log_level             = var.log_level
  tags                  = var.tags

  policy_statements = [
    local.read_uploads,
    local.invoke_model,
    local.store_items,
    local.publish_notifications,
    local.read_signing_key,
  ]
}

module "observability" {
  source = "../observability"

  name_prefix                 = var.name_prefix
  region                      = var.region
  state_machine_arn           = module.state_machine.arn
  orchestrator_function_name  = module.orchestrator.function_name
  dead_letter_queue_names     = module.events.dead_letter_queue_names
  event_rule_arns             = module.events.alert_rule_arns
  alert_email                 = var.alert_email
  failed_executions_threshold = var.failed_executions_threshold
  duration_threshold_ms       = var.duration_threshold_ms
  dlq_depth_threshold         = var.dlq_depth_threshold
  tags                        = var.tags
}

module "events" {
  source = "../events"

  name_prefix                      = var.name_prefix
  bucket_name                      = module.storage.bucket_name
  state_machine_arn                = module.state_machine.arn
  orchestrator_function_name       = module.orchestrator.function_name
  orchestrator_function_arn        = module.orchestrator.function_arn
  orchestrator_alias_name          = module.orchestrator.alias_name
  orchestrator_alias_arn           = module.orchestrator.alias_arn
  execution_recorder_function_name = module.functions["execution_recorder"].function_name
  execution_recorder_function_arn  = module.functions["execution_recorder"].function_arn
  alert_topic_arn                  = module.observability.alert_topic_arn
  maximum_retry_attempts           = var.event_retry_attempts
  maximum_event_age_seconds        = var.event_max_age_seconds
  tags                             = var.tags
}
