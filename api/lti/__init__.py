"""LTI 1.3 launch and Assignment and Grade Services (AGS) for LMSs such as Canvas or Moodle.

The checks are implemented directly on PyJWT (already a dependency) rather than through
PyLTI1p3, which ships Django/Flask adapters only and has not been released since 2022:
OIDC login initiation, id_token signature against the platform's JWKS, issuer, audience
(and ``azp``), deployment id, single-use state and nonce, message type and version.
"""
