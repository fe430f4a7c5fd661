"""ACM: an imported certificate's chain is returned as imported."""
from __future__ import annotations

from typing import Any

from tests.localcloud.compat import Patch


def _apply_imported_chain() -> None:
    from moto.acm import models
    from moto.acm.responses import AWSCertificateManagerResponse

    cls = models.CertBundle
    original = cls.__init__

    def __init__(self: Any, account_id: str, certificate: bytes, private_key: bytes, chain: bytes | None = None,
                 *args: Any, **kwargs: Any) -> None:
        original(self, account_id, certificate, private_key, chain, *args, **kwargs)
        if self.type == "IMPORTED":
            # moto appended its Amazon root CA here; an imported chain is the caller's own.
            self.chain = chain or b""

    cls.__init__ = __init__  # type: ignore[method-assign]

    original_get = AWSCertificateManagerResponse.get_certificate

    def get_certificate(self: Any) -> Any:
        result = original_get(self)
        if not result.result.get("CertificateChain"):
            result.result.pop("CertificateChain", None)
        return result

    AWSCertificateManagerResponse.get_certificate = get_certificate  # type: ignore[method-assign]


PATCHES = [
    Patch(
        name="acm-imported-chain",
        api="acm:ImportCertificate, GetCertificate",
        moto_does="Appends its own Amazon root CA to every certificate chain, imported ones included, so "
        "amazon.aws.acm_certificate sees a different chain and re-imports on every run.",
        aws_does="Returns an imported certificate with the chain that was imported (no chain if none was); "
        "only ACM-issued certificates come with Amazon's chain.",
        doc="AWS Certificate Manager API Reference, ImportCertificate / GetCertificate: "
        "https://docs.aws.amazon.com/acm/latest/APIReference/API_GetCertificate.html",
        apply=_apply_imported_chain,
    ),
]
