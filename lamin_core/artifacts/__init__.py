"""The artifact lifecycle: staging content, saving it atomically with versions, reading it back."""
