"""Storage: the only code that does I/O on the index.

`library` opens a data directory (settings, registry, chunk store, embedding model together),
`store` is Chroma, `registry` / `registry_server` hold documents, versions and the generation number,
`models` the embedding model and its cache, `shared_cache` that cache on a Chroma server.
"""
