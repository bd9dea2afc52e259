"""The memory domain: HTTP routes, request/response schemas, the service and its backend."""
