"""metrics routes (being written)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["metrics"])
