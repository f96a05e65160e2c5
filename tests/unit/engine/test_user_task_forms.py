"""Camunda forms in the engine: deploying and versioning them, linking and embedding them in
user tasks, and checking completions against them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bpmn_helpers import HEADER, chain, process
from legato import BpmnValidationError, FormParseError, FormValidationError, NotFoundError
from legato.testing import TestEngine

CAMUNDA_HEADER = HEADER.replace(
    "<bpmn:definitions ", '<bpmn:definitions xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
)


def form_json(form_id: str = "approve", *, minimum: int = 1, label: str = "Amount") -> str:
    return json.dumps(
        {
            "id": form_id,
            "type": "default",
            "components": [
                {
                    "type": "number",
                    "key": "amount",
                    "label": label,
                    "validate": {"required": True, "min": minimum},
                },
                {"type": "checkbox", "key": "approved"},
                {"type": "textfield", "key": "email", "validate": {"validationType": "email"}},
            ],
        }
    )


def task_process(extensions: str = "", attrs: str = "", extra_process: str = "") -> str:
    body = (
        '<bpmn:startEvent id="s"/>'
        f'<bpmn:userTask id="t" {attrs}><bpmn:extensionElements>{extensions}'
        "</bpmn:extensionElements></bpmn:userTask>"
        '<bpmn:endEvent id="e"/>' + chain("s", "t", "e")
    )
    xml = process(body).replace(HEADER, CAMUNDA_HEADER)
    if extra_process:
        xml = xml.replace('isExecutable="true">\n', f'isExecutable="true">\n{extra_process}', 1)
    return xml


LINKED = task_process('<zeebe:formDefinition formId="approve"/>')


def open_task(engine: TestEngine) -> int:
    engine.start("p")
    [task] = engine.user_tasks()
    return task.user_task_key


# -- deploying ---------------------------------------------------------------------------------


def test_forms_are_versioned_and_unchanged_content_makes_no_new_version(tmp_path: Path) -> None:
    engine = TestEngine()
    path = tmp_path / "approve.form"
    path.write_text(form_json())
    first = engine.deploy(path)
    [deployed] = first.forms
    assert (deployed.form_id, deployed.version, deployed.resource_name) == (
        "approve",
        1,
        "approve.form",
    )
    assert first.processes == () and first.decisions == ()
    again = engine.deploy(path)
    assert again.forms == first.forms
    path.write_text(form_json(label="Sum"))
    [second] = engine.deploy(path).forms
    assert second.version == 2 and second.form_key != deployed.form_key

    latest = engine.form("approve")
    assert (latest.form_key, latest.version) == (second.form_key, 2)
    assert latest.schema["components"][0]["label"] == "Sum"
    assert engine.form("approve", version=1).schema["components"][0]["label"] == "Amount"
    assert engine.form(form_key=deployed.form_key).version == 1
    with pytest.raises(NotFoundError, match="no form with id 'approve' version 3"):
        engine.form("approve", version=3)
    with pytest.raises(NotFoundError, match="no form with id 'other'"):
        engine.form("other")


def test_a_form_is_deployed_from_a_string_and_bytes() -> None:
    engine = TestEngine()
    [deployed] = engine.deploy(form_json("inline")).forms
    assert (deployed.form_id, deployed.resource_name) == ("inline", "<string>")
    [same] = engine.deploy(form_json("inline").encode()).forms
    assert same == deployed


def test_a_directory_deploys_its_forms_before_its_processes(tmp_path: Path) -> None:
    (tmp_path / "approve.form").write_text(form_json())
    (tmp_path / "p.bpmn").write_text(LINKED)
    engine = TestEngine()
    deployment = engine.deploy(tmp_path)
    assert [f.form_id for f in deployment.forms] == ["approve"]
    assert [p.process_id for p in deployment.processes] == ["p"]
    key = open_task(engine)
    form = engine.user_task_form(key)
    assert form is not None and form.form_id == "approve"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{broken", "bad.form: the form is not valid JSON"),
        ('{"components": []}', "bad.form: the form has no id"),
        ('{"id": "x", "pad": "' + "x" * (3 * 1024 * 1024) + '"}', "bad.form: the form is larger"),
    ],
)
def test_bad_form_files_are_refused_naming_the_file(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.form"
    path.write_text(content)
    engine = TestEngine()
    with pytest.raises(FormParseError) as caught:
        engine.deploy(path)
    assert message in str(caught.value)
    with pytest.raises(NotFoundError):
        engine.form("x")


# -- linked and embedded forms -----------------------------------------------------------------


def test_a_linked_form_binds_the_latest_version_when_the_task_is_created() -> None:
    engine = TestEngine()
    [v1] = engine.deploy(form_json(minimum=1)).forms
    engine.deploy(LINKED)
    key = open_task(engine)
    engine.deploy(form_json(minimum=50))  # version 2, after the task was created
    task = engine.user_task(key)
    assert (task.form_id, task.linked_form_key) == ("approve", v1.form_key)
    form = engine.user_task_form(key)
    assert form is not None and form.version == 1
    engine.complete_user_task(key, {"amount": 10})  # version 1 allows 10
    assert engine.user_task(key).state == "completed"


def test_a_camunda_7_form_ref_links_a_form() -> None:
    engine = TestEngine()
    engine.deploy(form_json())
    engine.deploy(task_process(attrs='camunda:formRef="approve" camunda:formRefBinding="latest"'))
    key = open_task(engine)
    with pytest.raises(FormValidationError):
        engine.complete_user_task(key, {})


def test_a_task_without_a_deployed_form_is_not_checked() -> None:
    engine = TestEngine()
    engine.deploy(LINKED)
    key = open_task(engine)
    assert engine.user_task_form(key) is None
    engine.complete_user_task(key, {"anything": 1})


EMBEDDED_FORM = json.dumps(
    {
        "id": "inner",
        "components": [{"type": "textfield", "key": "name", "validate": {"required": True}}],
    }
)


def test_an_embedded_form_is_found_and_checked() -> None:
    embedded = (
        '<bpmn:extensionElements><zeebe:userTaskForm id="inner">'
        f"{EMBEDDED_FORM.replace('&', '&amp;').replace('<', '&lt;')}"
        "</zeebe:userTaskForm></bpmn:extensionElements>"
    )
    xml = task_process(
        '<zeebe:formDefinition formKey="camunda-forms:bpmn:inner"/>', extra_process=embedded
    )
    engine = TestEngine()
    engine.deploy(xml)
    key = open_task(engine)
    task = engine.user_task(key)
    assert (task.form_key, task.form_id) == ("camunda-forms:bpmn:inner", "inner")
    form = engine.user_task_form(key)
    assert form is not None
    assert form.form_id == "inner" and form.schema["components"][0]["key"] == "name"
    with pytest.raises(FormValidationError, match="name: is required"):
        engine.complete_user_task(key, {})
    engine.complete_user_task(key, {"name": "Ada"})


def test_a_missing_embedded_form_is_a_problem_of_the_model() -> None:
    engine = TestEngine()
    with pytest.raises(BpmnValidationError, match="no zeebe:userTaskForm with id 'nope'"):
        engine.deploy(task_process('<zeebe:formDefinition formKey="camunda-forms:bpmn:nope"/>'))


# -- validation on completion ------------------------------------------------------------------


def test_a_refused_completion_lists_every_bad_field_and_changes_nothing() -> None:
    engine = TestEngine()
    engine.deploy(form_json())
    engine.deploy(LINKED)
    key = open_task(engine)
    [instance] = engine.instances()
    before = engine.history(instance.key)
    with pytest.raises(FormValidationError) as caught:
        engine.complete_user_task(key, {"amount": 0, "approved": "yes", "email": "nope"})
    error = caught.value
    assert [(e.field, e.message) for e in error.errors] == [
        ("amount", "must be at least 1"),
        ("approved", "must be true or false"),
        ("email", "must be an e-mail address"),
    ]
    assert str(error).startswith(f"the variables do not fit form 'approve' of user task {key}: ")
    assert "amount: must be at least 1" in str(error)
    assert engine.user_task(key).state == "created"
    assert engine.history(instance.key) == before
    assert "amount" not in engine.state(instance.key).variables.get(instance.key, {})


def test_a_missing_required_field_is_refused() -> None:
    engine = TestEngine()
    engine.deploy(form_json())
    engine.deploy(LINKED)
    key = open_task(engine)
    with pytest.raises(FormValidationError) as caught:
        engine.complete_user_task(key, {"approved": True})
    assert [(e.field, e.message) for e in caught.value.errors] == [("amount", "is required")]
    values: dict[str, Any] = {"amount": 3, "approved": True, "email": "a@b.io"}
    engine.complete_user_task(key, values)
    [instance] = engine.instances(status=None)
    engine.assert_that(instance.key).is_completed().has_variables(amount=3, approved=True)


def tagged_form(tag: str, minimum: int) -> str:
    schema = json.loads(form_json(minimum=minimum))
    return json.dumps({**schema, "versionTag": tag})


def test_a_version_tag_binding_picks_the_newest_version_with_that_tag() -> None:
    engine = TestEngine()
    [v1] = engine.deploy(tagged_form("v1", 1)).forms
    engine.deploy(tagged_form("v2", 50))
    engine.deploy(
        task_process(
            '<zeebe:formDefinition formId="approve" bindingType="versionTag" versionTag="v1"/>'
        )
    )
    key = open_task(engine)
    assert engine.user_task(key).linked_form_key == v1.form_key
    assert engine.form(form_key=v1.form_key).version_tag == "v1"


def test_a_camunda_7_version_binding_picks_that_version() -> None:
    engine = TestEngine()
    [v1] = engine.deploy(form_json(minimum=1)).forms
    engine.deploy(form_json(minimum=50))
    engine.deploy(
        task_process(
            attrs='camunda:formRef="approve" camunda:formRefBinding="version"'
            ' camunda:formRefVersion="1"'
        )
    )
    key = open_task(engine)
    assert engine.user_task(key).linked_form_key == v1.form_key
    engine.complete_user_task(key, {"amount": 10})
