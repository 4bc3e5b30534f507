"""Blob storage: the landing zone of fetched pages."""
