"""The Blob service client for a StorageTarget: by connection string, or by URL with the app's managed identity."""

from __future__ import annotations

from typing import Any

from azure.storage.blob import BlobServiceClient

from shared.core.config import StorageTarget


def blob_service(target: StorageTarget, *, credential: Any = None, **options: Any) -> BlobServiceClient:
    """`credential` replaces DefaultAzureCredential for identity-based targets (tests pass a fake one)."""
    if target.connection_string is not None:
        return BlobServiceClient.from_connection_string(target.connection_string, **options)
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential(managed_identity_client_id=target.client_id)
    return BlobServiceClient(account_url=target.blob_url, credential=credential, **options)
