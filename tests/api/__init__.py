"""The REST API: each area's endpoints, and the whole API against its OpenAPI schema."""
