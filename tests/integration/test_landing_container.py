"""A process makes sure its landing container exists once, not before every page (shared/blob/landing.py): a fetch
activity opens a LandingZone of its own, and a create request per page was a round trip to the storage account each.
A container that went since (deleted by hand, a new storage account behind the same name) is made again by the page
that finds it missing. Real Azurite."""

from __future__ import annotations

import uuid

from azure.storage.blob import ContainerClient

from shared.blob import landing
from shared.blob.landing import LandingZone
from shared.blob.service import blob_service
from shared.core.config import load_settings


def test_the_container_is_made_sure_of_once_per_process_and_again_when_it_went(landing_container, monkeypatch):
    name = f"test-{uuid.uuid4().hex[:12]}"
    creates: list[str] = []
    real_create = ContainerClient.create_container

    def counted_create(self, *args, **kwargs):
        creates.append(self.container_name)
        return real_create(self, *args, **kwargs)

    monkeypatch.setattr(ContainerClient, "create_container", counted_create)
    settings = load_settings()
    try:
        for page in range(3):  # three fetch activities of one process, each with a zone of its own
            LandingZone(settings.storage, name).put_page(f"c/s/r/{page:06d}.jsonl.gz", [{"Id": str(page)}])
        assert creates == [name]
        blob_service(settings.storage).delete_container(name)
        zone = LandingZone(settings.storage, name)
        assert zone.put_page("c/s/r/000009.jsonl.gz", [{"Id": "9"}]) == 1
        assert creates == [name, name]
        assert list(zone.read_page("c/s/r/000009.jsonl.gz")) == [{"Id": "9"}]
    finally:
        blob_service(settings.storage).delete_container(name)
        landing._ENSURED.discard(LandingZone(settings.storage, name)._container.url)
