"""The one exception tree of Legato.

```
LegatoError
├── ModelError                  a model cannot be read or deployed
│   ├── BpmnParseError          malformed or hostile XML, or XML that is not BPMN
│   ├── DmnParseError           malformed or hostile XML, or XML that is not DMN
│   ├── FormParseError          a Camunda form file that is not valid form JSON
│   └── ModelValidationError    a model that breaks rules (carries every issue found)
│       ├── BpmnValidationError a BPMN model that breaks a BPMN rule
│       └── DmnValidationError  a DMN model that cannot be deployed
├── DecisionError               a decision, business knowledge model or service is unknown
├── ExpressionError             an expression failed to compile or to evaluate
├── NotFoundError               a process, instance, job, task or incident is unknown
│   └── AccountNotFoundError    a user or an API key is unknown
├── InvalidCommandError         a command that does not fit the current state
│   ├── JobStateError           a job that is not held (or not by this worker) as required
│   ├── TaskConflictError       a user task is completed, or assigned to someone else
│   ├── InstanceSuspendedError  the instance is suspended (or not, to resume it)
│   └── FormValidationError     submitted variables break the task's form (carries each field)
├── TooManyRequestsError        too many calls wait for jobs at once: try again later
├── AccountError                a user or an API key cannot be made or changed as asked
│   └── AccountExistsError      the user name is taken
├── StoreError                  the database could not be used as required
│   ├── ConflictError           another node changed the same rows first: retry the command
│   └── StoreUnavailableError   the database cannot be reached now (connection lost, restart)
└── JobError                    raised by a job handler to steer what happens to its job
    ├── BpmnError               a business error with a code, for the model to catch
    └── NonRetryableError       a failure that retrying cannot fix: an incident at once
```

Any other exception raised by a handler is a retryable failure: the job is tried again after
the backoff while attempts remain, then becomes an incident.

Expected failures inside a running instance (a failing condition, a missing variable, an
exhausted retry budget) are not raised: they become incidents on the instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]
"""How much a broken rule weighs: an error refuses the model, a warning is reported with it."""


class LegatoError(Exception):
    """The base of every error Legato raises on purpose."""


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where in a model file something is."""

    file: str | None = None
    """The file name (or ``None`` when the model came from a string)."""
    line: int | None = None
    """The 1-based line number in the file."""
    element_id: str | None = None
    """The id of the BPMN element concerned."""

    def __str__(self) -> str:
        parts = [self.file or "<string>"]
        if self.line is not None:
            parts[0] += f":{self.line}"
        if self.element_id:
            parts.append(f"element '{self.element_id}'")
        return ", ".join(parts)


class ModelError(LegatoError):
    """A model cannot be read or deployed."""

    def __init__(self, message: str, location: SourceLocation | None = None) -> None:
        self.message = message
        self.location = location or SourceLocation()
        super().__init__(f"{self.location}: {message}" if location else message)


class BpmnParseError(ModelError):
    """The file is not well-formed, is hostile, too large, or is not BPMN 2.0 XML."""


class DmnParseError(ModelError):
    """The file is not well-formed, is hostile, too large, or is not DMN 1.1-1.5 XML."""


class FormParseError(ModelError):
    """A form file is not JSON, is too large or too deep, or is not a Camunda form (no id)."""


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One broken rule of a model."""

    rule: str
    """A short rule identifier, e.g. ``EXT023`` or ``exclusive-gateway-default``."""
    message: str
    """What is wrong, in a sentence."""
    location: SourceLocation
    """Where it is."""
    severity: Severity = "error"
    """``"error"`` refuses the model; ``"warning"`` is reported and the model deploys (the
    compatible validation profile makes some rules warnings, see :mod:`legato.bpmn.validate`)."""

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.location}: {prefix}[{self.rule}] {self.message}"


class ModelValidationError(ModelError):
    """A model that breaks rules and cannot be deployed; it carries every issue found."""

    def __init__(self, issues: list[ValidationIssue]) -> None:
        self.issues = issues
        first = issues[0]
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(f"[{first.rule}] {first.message}{more}", first.location)
        self.args = ("\n".join(str(issue) for issue in issues),)

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)


class BpmnValidationError(ModelValidationError):
    """The model breaks one or more BPMN rules and cannot be deployed."""


class DmnValidationError(ModelValidationError):
    """A DMN model that cannot be deployed, such as one calling a function that is neither a
    FEEL built-in nor defined in the model."""


class DecisionError(LegatoError):
    """A decision, business knowledge model or decision service that the model lacks.

    Failures while evaluating a decision (a violated hit policy, a value of the wrong type)
    are not raised: they make the value null and are listed on the result.
    """


class ExpressionError(LegatoError):
    """An expression failed to compile or to evaluate."""


class NotFoundError(LegatoError):
    """A process definition, instance, job, user task or incident is unknown."""


class AccountNotFoundError(NotFoundError):
    """A user or an API key is unknown."""


class AccountError(LegatoError):
    """A user or an API key cannot be made or changed as asked: an unknown role, an empty
    password, a name that cannot be used, or a change that would leave no administrator."""


class AccountExistsError(AccountError):
    """A user of that name exists already."""


class InvalidCommandError(LegatoError):
    """A command that does not fit the current state (e.g. completing a finished job)."""


class InstanceSuspendedError(InvalidCommandError):
    """A command for a suspended instance that must wait until it is resumed (completing
    its jobs or user tasks, correlating, firing its timers), or a suspension or resumption
    that does not fit (suspending it twice, resuming an instance that is not suspended).
    The message names the instance."""


class MigrationError(InvalidCommandError):
    """A migration that cannot run as planned: an instance whose state the plan does not
    fit (an active element with no target, a join that would wait for ever, ...), or a plan
    naming elements that do not exist. Nothing was migrated. ``problems`` maps each refused
    instance key to the reason (empty for a plan refused as a whole)."""

    def __init__(self, message: str, problems: dict[int, str] | None = None) -> None:
        super().__init__(message)
        self.problems = dict(problems or {})


class JobStateError(InvalidCommandError):
    """A job command that does not fit the job's lease.

    The job was never fetched, its lease ran out (it is back in the queue: a stale lease),
    it failed and waits for an operator, another worker holds it, or its instance is
    suspended. The message names the
    job (and both workers when they differ).
    """


class TooManyRequestsError(LegatoError):
    """Too many calls wait for jobs (long polling) at once; the call should be tried again
    later (an HTTP server answers 503 or 500)."""


class TaskConflictError(InvalidCommandError):
    """A user task cannot be changed so: it is completed or canceled, or it is assigned to
    someone else (a claim without override, a completion by another user)."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field of a submission that its form refuses."""

    field: str
    """The form field's key (or path) the value was submitted under."""
    message: str
    """What is wrong with it, e.g. ``is required``."""

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class FormValidationError(InvalidCommandError):
    """The variables submitted with a user task break the rules of the task's form."""

    def __init__(self, message: str, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        """One entry per refused field."""
        super().__init__(f"{message}: " + "; ".join(str(e) for e in errors))


class StoreError(LegatoError):
    """The database could not be used as required."""


class ConflictError(StoreError):
    """Another transaction changed the same instance (or took the same unique key) first.

    Nothing of the losing transaction was stored; running its command again against the
    current state is safe, and the engine does so by itself.
    """


class StoreUnavailableError(StoreError):
    """The database cannot be reached now: the connection was lost or the server restarts.

    The store reconnects at its next transaction. ``maybe_committed`` is True when the
    connection was lost during the commit itself, so the transaction may or may not have
    been stored.
    """

    def __init__(self, message: str, *, maybe_committed: bool = False) -> None:
        super().__init__(message)
        self.maybe_committed = maybe_committed


class EncryptionError(StoreError):
    """Stored data cannot be encrypted or decrypted: its key is not in the key ring (the
    message names the key), the ciphertext was changed or moved, or a key file is wrong."""


class JobError(LegatoError):
    """Raised by a job handler to steer what happens to its job."""


class BpmnError(JobError):
    """A business error for the model to catch (an error boundary event or event sub-process).

    Args:
        code: the error code the catching event matches.
        message: a human-readable explanation.
        variables: variables to set where the error is caught.
    """

    def __init__(
        self, code: str, message: str = "", variables: dict[str, object] | None = None
    ) -> None:
        self.code = code
        self.message = message
        self.variables = dict(variables or {})
        super().__init__(f"BPMN error '{code}'" + (f": {message}" if message else ""))


class NonRetryableError(JobError):
    """A failure that retrying cannot fix: the job becomes an incident at once."""
