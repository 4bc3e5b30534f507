"""The API's request and response models, one module per area (they are the documented contract)."""
