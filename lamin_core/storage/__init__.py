"""Where artifact content lives: fsspec paths, hashing, serialisation, atomic writes, caching.

Public helpers for integrations: `suffix_of` (the suffix an artifact gets for a path, compound
suffixes such as ``.fastq.gz`` kept whole) and `hash_file` (the catalog's content hash).
"""

from lamin_core.storage.hashing import hash_file
from lamin_core.storage.paths import suffix_of

__all__ = ["hash_file", "suffix_of"]
