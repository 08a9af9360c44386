# Test helper (no resources): checks a rendered ASL document. Used by the .tftest.hcl files.
# Scopes are flattened three levels deep (Parallel branches, Map ItemProcessor/Iterator).

variable "definition" {
  description = "Rendered ASL (JSON)."
  type        = string
}

locals {
  doc = jsondecode(var.definition)

  l0 = [{ start = local.doc.StartAt, states = local.doc.States }]
  l1 = flatten([for sc in local.l0 : [for name, st in sc.states : concat(
    [for b in try(st.Branches, []) : { start = b.StartAt, states = b.States }],
    try([{ start = st.ItemProcessor.StartAt, states = st.ItemProcessor.States }], []),
    try([{ start = st.Iterator.StartAt, states = st.Iterator.States }], []),
  )]])
  l2 = flatten([for sc in local.l1 : [for name, st in sc.states : concat(
    [for b in try(st.Branches, []) : { start = b.StartAt, states = b.States }],
    try([{ start = st.ItemProcessor.StartAt, states = st.ItemProcessor.States }], []),
    try([{ start = st.Iterator.StartAt, states = st.Iterator.States }], []),
  )]])
  l3 = flatten([for sc in local.l2 : [for name, st in sc.states : concat(
    [for b in try(st.Branches, []) : { start = b.StartAt, states = b.States }],
    try([{ start = st.ItemProcessor.StartAt, states = st.ItemProcessor.States }], []),
    try([{ start = st.Iterator.StartAt, states = st.Iterator.States }], []),
  )]])
  scopes = concat(local.l0, local.l1, local.l2, local.l3)

  terminal_types = ["Succeed", "Fail", "Choice"]

  problems = flatten([for sc in local.scopes : concat(
    contains(keys(sc.states), sc.start) ? [] : ["StartAt ${sc.start} is not a state"],
    flatten([for name, st in sc.states : concat(
      [for target in compact(concat(
        [try(st.Next, "")],
        [try(st.Default, "")],
        [for c in try(st.Choices, []) : try(c.Next, "")],
        [for c in try(st.Catch, []) : try(c.Next, "")],
      )) : "${name} -> ${target} does not exist" if !contains(keys(sc.states), target)],
      (can(st.Next) || try(st.End, false) || contains(local.terminal_types, st.Type)) ? [] : ["${name} has neither Next nor End"],
    )]),
  )])

  task_resources = flatten([for sc in local.scopes : [for name, st in sc.states : try(st.Resource, "") if st.Type == "Task"]])
}

output "problems" {
  description = "Every broken StartAt, Next, Default, Choice or Catch target (empty when valid)."
  value       = local.problems
}

output "state_count" {
  description = "Number of states in all scopes."
  value       = sum([for sc in local.scopes : length(keys(sc.states))])
}

output "task_resources" {
  description = "Resource of every Task state."
  value       = local.task_resources
}
