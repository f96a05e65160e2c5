"""Camunda Forms: read a form-js ``.form`` file and check a submission against it.

```python
from legato import forms
form = forms.parse_form(Path("approve.form").read_text(), "approve.form")
forms.validate_submission(form, {"amount": 12, "approved": True})   # [] when it fits
```

The rules are form-js's: ``validate.required``, ``minLength``/``maxLength``, ``min``/``max``,
``pattern`` (the whole value must match), ``validationType`` ``email`` or ``phone``; the value
types of the field types (numbers for ``number``, booleans for ``checkbox``, lists for
``checklist`` and ``taglist``, ISO dates and times for ``datetime``), ``decimalDigits`` and
``increment`` of numbers, and the static ``values`` of selects, radios, checklists and
taglists (options from ``valuesKey`` or ``valuesExpression`` are not known here, so any value
is accepted). Fields in groups with a ``path`` are nested objects; a ``dynamiclist`` is a list
of objects, each checked against its components (``items[1].name``). A field whose
``conditional.hide`` FEEL expression is true for the submission is not checked, nor are
disabled fields; display components (``text``, ``html``, ``image``, ``button``,
``separator``, ``spacer``, ``expression``, ``iframe``, ``table``) hold no input.

This package reads no files and imports only the FEEL package and the errors.
"""

from __future__ import annotations

from legato.forms.model import MAX_FORM_BYTES, Form, FormField, parse_form
from legato.forms.validation import validate_submission

__all__ = ["MAX_FORM_BYTES", "Form", "FormField", "parse_form", "validate_submission"]
