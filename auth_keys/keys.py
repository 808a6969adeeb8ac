"""Making, hashing and masking raw personal API keys."""

import hashlib
import secrets

KEY_PREFIX = "phx_"
# 43 url-safe characters carry 258 bits, above the 256 bits the contract asks for.
KEY_RANDOM_BYTES = 32
# A raw key longer than this cannot be one of ours; refuse it without hashing it.
MAX_KEY_LENGTH = 128


def generate_raw_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_BYTES)


def digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8", "surrogatepass")).hexdigest()


def mask(raw_key: str) -> str:
    return f"{raw_key[:4]}...{raw_key[-4:]}"
