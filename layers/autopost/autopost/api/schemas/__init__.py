"""The HTTP API's request and response bodies (camelCase on the wire), one module a
resource."""
