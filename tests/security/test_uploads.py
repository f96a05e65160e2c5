"""Hostile deployment uploads through the HTTP deploy routes (Camunda 8's
``/v2/deployments``, Camunda 7's ``/engine-rest/deployment/create``): path traversal in file
names, bodies over the size limit (declared or streamed without a length), and hostile XML
(entity expansion, external entities, huge attributes and trees). Each is refused with a
clear 4xx; nothing is written outside the server's temporary folder; the engine still
deploys a good model afterwards. Legato takes no archives (zip, bar), so no zip bomb can be
uploaded: a zip is refused as a malformed model."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from security_support import Site, open_site

GOOD = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
    targetNamespace="t">
  <bpmn:process id="good" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
    targetNamespace="t">
  <bpmn:process id="lol" name="&lol9;" isExecutable="true"><bpmn:startEvent id="s"/>
  </bpmn:process>
</bpmn:definitions>"""


def _external(secret: Path) -> bytes:
    return f"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file://{secret}">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
    targetNamespace="t">
  <bpmn:process id="xxe" name="&xxe;" isExecutable="true"><bpmn:startEvent id="s"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def _huge_attribute(size: int) -> bytes:
    return GOOD.replace(b'id="good"', b'id="good" name="' + b"A" * size + b'"')


def _deep(depth: int) -> bytes:
    nested = b"<x>" * depth + b"</x>" * depth
    return GOOD.replace(b"<bpmn:startEvent", nested + b"<bpmn:startEvent")


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.bpmn", b"\0" * 10_000_000)
    return buffer.getvalue()


def deploy_v2(site: Site, name: str, data: bytes) -> tuple[int, str]:
    files = [("resources", (name, data, "application/octet-stream"))]
    answer = site.client.post("/v2/deployments", files=files, **site.api_auth("admin"))
    return answer.status_code, answer.text


def deploy_c7(site: Site, name: str, data: bytes) -> tuple[int, str]:
    files = [("data", (name, data, "application/octet-stream"))]
    answer = site.client.post(
        "/engine-rest/deployment/create", files=files, **site.api_auth("admin")
    )
    return answer.status_code, answer.text


def deploy_web(site: Site, name: str, data: bytes) -> tuple[int, str]:
    files = [("resources", (name, data, "application/octet-stream"))]
    session = site.session("admin")
    session["headers"].pop("HX-Request")
    answer = site.client.post("/cockpit/deployments", files=files, **session)
    status = 200 if answer.status_code == 303 else answer.status_code
    return status, answer.text


ROUTES = {"v2": deploy_v2, "c7": deploy_c7, "web": deploy_web}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One site for the module: every upload is refused, or deploys the same good model."""
    yield from open_site(tmp_path_factory.mktemp("uploads"))


@pytest.fixture(params=sorted(ROUTES))
def route(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def jail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The folder temporary files go to (so a traversal would show beside it)."""
    folder = tmp_path / "jail" / "tmp" / "inner"
    folder.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(folder))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder


def _still_deploys(site: Site, route: str) -> None:
    status, text = ROUTES[route](site, "good.bpmn", GOOD)
    assert status == 200, text


@pytest.mark.parametrize(
    "name",
    [
        "../../escaped.bpmn",
        "..",
        ".",
        "/",
        "/tmp/absolute.bpmn",
        "..\\..\\escaped.bpmn",
        "a\x00.bpmn",
        "line\nbreak.bpmn",
        "x" * 300 + ".bpmn",
    ],
    ids=["dotdot", "parent", "self", "root", "absolute", "backslash", "nul", "newline", "long"],
)
def test_a_traversing_or_invalid_file_name_writes_nothing_outside(
    site: Site, route: str, jail: Path, name: str
) -> None:
    status, text = ROUTES[route](site, name, GOOD)
    assert status in (200, 400), text
    if status == 400:
        assert "name" in text.lower()
    outside = [p for p in jail.parent.parent.rglob("*") if jail not in (p, *p.parents)]
    assert [p for p in outside if p.is_file()] == []
    _still_deploys(site, route)


@pytest.mark.parametrize(
    "model",
    ["laughs", "external", "attribute", "deep", "zip"],
)
def test_hostile_xml_is_refused_naming_the_file(
    site: Site, route: str, tmp_path: Path, model: str
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    data = {
        "laughs": lambda: LAUGHS,
        "external": lambda: _external(secret),
        "attribute": lambda: _huge_attribute(200_000),
        "deep": lambda: _deep(5_000),
        "zip": _zip,
    }[model]()
    status, text = ROUTES[route](site, "hostile.bpmn", data)
    assert status == 400, text
    assert "hostile.bpmn" in text.replace("&#34;", '"')
    assert "TOP-SECRET-VALUE" not in text
    assert "lollollol" not in text
    listed = site.client.get("/engine-rest/process-definition", **site.api_auth("admin"))
    assert "TOP-SECRET-VALUE" not in listed.text
    _still_deploys(site, route)


def test_a_body_over_the_limit_is_refused_with_413(site: Site, route: str) -> None:
    limit: int = site.app.state.max_upload_bytes
    status, text = ROUTES[route](site, "big.bpmn", b" " * (limit + 1))
    assert status == 413, text
    assert str(limit) in text
    _still_deploys(site, route)


def test_a_streamed_body_over_the_limit_is_refused_with_413(site: Site) -> None:
    limit: int = site.app.state.max_upload_bytes
    chunk = b"x" * 65536

    def chunks() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="resources"; '
        yield b'filename="big.bpmn"\r\nContent-Type: text/xml\r\n\r\n'
        for _ in range(limit // len(chunk) + 2):
            yield chunk
        yield b"\r\n--b--\r\n"

    for path in ("/v2/deployments", "/engine-rest/deployment/create"):
        answer = site.client.post(
            path,
            content=chunks(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
            **site.api_auth("admin"),
        )
        assert answer.status_code == 413, (path, answer.text)
