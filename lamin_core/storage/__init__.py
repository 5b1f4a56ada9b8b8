"""Where artifact content lives: fsspec paths, hashing, serialisation, atomic writes, caching."""
