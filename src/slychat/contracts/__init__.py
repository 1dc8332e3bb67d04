"""Machine-readable contracts: the OpenAPI document of the HTTP routes and the AsyncAPI
document of the Socket.IO events, both generated from the models the server validates
with (`python -m slychat.contracts openapi|asyncapi`)."""
