"""Whoever runs one ARC's instance holds only that ARC's issuer key. On every service,
a token that key signs claiming the national role or another ARC is refused with
UNAUTHENTICATED, and so is one signed by a key no trusted issuer publishes, while the
ARC's own members are served."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import jwt
import pytest

from mhin.catalogue.v1 import catalogue_pb2
from mhin.evaluation.v1 import evaluation_pb2
from mhin.governance.v1 import governance_pb2
from mhin.needs.v1 import needs_pb2
from mhin.projects.v1 import projects_service_pb2
from mhin_devkit.harness import TEST_ARC_ISSUERS, TEST_ISSUER, Caller
from mhin_platform.reference import Arc
from mhin_platform.tokens import SigningKey, issue_token

pytestmark = pytest.mark.integration

GM_ISSUER = TEST_ARC_ISSUERS[Arc.GREATER_MANCHESTER]
# One call every caller with a valid token may make, on each service.
READS = {
    "needs": ("ListNeeds", needs_pb2.ListNeedsRequest()),
    "solutions": ("ListSolutions", catalogue_pb2.ListSolutionsRequest()),
    "projects": ("ListProjects", projects_service_pb2.ListProjectsRequest()),
    "governance": ("ListBodies", governance_pb2.ListBodiesRequest()),
    "evaluation": ("ListMeasures", evaluation_pb2.ListMeasuresRequest()),
}


def signed(key: SigningKey, **claims: object) -> str:
    now = datetime.now(UTC)
    body = {"iss": key.issuer, "sub": "mallory", "aud": "mhin", "iat": now, "nbf": now,
            "exp": now + timedelta(minutes=10), **claims}
    return jwt.encode(body, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})


FORGERIES = {
    "an ARC issuer signing national_admin": signed(GM_ISSUER, role="national_admin"),
    "an ARC issuer signing another ARC's member": signed(
        GM_ISSUER, role="arc_member", arc="YORKSHIRE_AND_HUMBER"),
    "an ARC issuer under the national issuer's name": signed(
        SigningKey(TEST_ISSUER.issuer, GM_ISSUER.private_key), role="national_admin"),
    "a key no trusted issuer publishes": signed(
        SigningKey.generate(TEST_ISSUER.issuer), role="national_admin"),
}


def call(platform, api: str, token: str):
    method, request = READS[api]
    stub = platform.api(api).stub
    return getattr(Caller(stub, (("authorization", f"Bearer {token}"),)), method)(request)


def test_forged_tokens_are_refused_by_every_service(platform):
    platform.start("needs-intake", "solution-catalogue", "project-tracking", "governance",
                   "evaluation")
    own_member = issue_token(GM_ISSUER, "gail", "arc_member", Arc.GREATER_MANCHESTER)
    for api in READS:
        call(platform, api, own_member)  # served
        for what, token in FORGERIES.items():
            with pytest.raises(grpc.RpcError) as refused:
                call(platform, api, token)
            assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED, (api, what)
