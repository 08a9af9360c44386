"""``albums preflight``: a read-only check of a real AWS account, before and after ``make apply``.

Local emulation does not check what only the account and the region can answer (see the
design's "AWS rules that local emulation does not check"). This command asks them, reading
only, and prints one line per check::

    ok   <check>: <detail>
    FAIL <check>: <detail and what to do>
    skip <check>: <why>

then a summary line. The exit code is 1 when any check failed, 0 otherwise; 2 for bad input
(an unknown ``--env``, a malformed ``required_permissions.json`` or state file) and 5 when the
caller cannot be identified (no credentials).

=============================  ==============================================================
``durable functions``          the region offers Lambda durable functions
                               (``ListDurableExecutionsByFunction`` on the orchestrator)
``bedrock model``              the configured model (or inference profile) exists in the
                               region, takes images, can be invoked on demand or through it
``bedrock access``             the account may invoke it: ``GetFoundationModelAvailability``
``state machine definition``   ``ValidateStateMachineDefinition`` of the definition as
                               Terraform renders it (``make tf-check`` writes it)
``iam <principal>``            after apply: ``SimulatePrincipalPolicy`` of each deployed role
                               over the permission set the test suite recorded
                               (``{ADDRESS#attr}`` placeholders, bound from
                               ``terraform show -json``)
``aws provider``               the hashicorp/aws version ``terraform init`` selected
=============================  ==============================================================

Each check is a function of its clients and inputs that returns :class:`CheckResult` values,
so it can be called (and tested) on its own; :func:`~albums_cli.preflight.cli.run_checks`
runs them in order. A failed AWS call that a check does not expect is that check's ``FAIL``
line, with the error code; the other checks still run. Missing credentials stop the command
(exit 5).

=============================  ==============================================================
:mod:`.results`                :class:`Status`, :class:`CheckResult`; a failed AWS call
:mod:`.state`                  ``terraform show -json`` (run, or ``--state PATH``) by address
:mod:`.permissions`            the recorded permission set and its ``{ADDRESS#attr}`` templates
:mod:`.checks_region`          durable functions, the Bedrock model and access to it
:mod:`.checks_deploy`          the state machine definition, the AWS provider version
:mod:`.iam`                    ``SimulatePrincipalPolicy`` of each deployed role
:mod:`.settings`               where the region, the model and the inputs come from
:mod:`.cli`                    the clients, the driver and ``albums preflight``'s parser
=============================  ==============================================================
"""

from albums_cli.preflight.cli import PreflightClients, add_command, preflight, run_command
from albums_cli.preflight.results import CheckResult, Status

__all__ = ["CheckResult", "PreflightClients", "Status", "add_command", "preflight", "run_command"]
