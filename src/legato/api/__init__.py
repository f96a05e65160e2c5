"""The Legato server's HTTP API.

Three surfaces on one FastAPI application (:func:`legato.api.app.create_app`):

- ``/v2/...``: the native API, shaped like Camunda 8's REST API (int64 keys as decimal
  strings, ``application/problem+json`` errors, search with ``filter`` / ``page`` / ``sort``),
  so Camunda 8 SDKs are Legato clients;
- ``/legato/v1/...``: what only Legato has (nodes, history of an instance, suspend/resume,
  users and API keys), in the same style;
- ``/engine-rest/...``: the Camunda 7 REST surface that Camunda 7 workers and clients use.

``/health`` and ``/ready`` answer without credentials; everything else needs them. Every
state-changing request lands in the audit trail (:mod:`legato.api.audit`).
"""
