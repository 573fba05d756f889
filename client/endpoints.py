# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Where the gateway is and which key to use: regions, overrides, URL checks."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from urllib.parse import urlsplit

from .errors import PREFS_HINT, GatewayError

REGIONS: dict[str, tuple[str, str]] = {
    "EU": ("Europe", "https://gateway-eu.404.xyz:4443"),
    "US_EAST": ("US East", "https://gateway-us-east.404.xyz:4443"),
    "US_WEST": ("US West", "https://gateway-us-west.404.xyz:4443"),
    "GEODNS": ("Closest (GeoDNS)", "https://api.dns.404.xyz"),
}
"""Region id → (label, base URL). ``CUSTOM`` means the user's own URL."""

CUSTOM_REGION = "CUSTOM"
ENV_GATEWAY_URL = "GEN404_GATEWAY_URL"

ENV_API_KEY = "GEN404_API_KEY"


def validate_base_url(url: str) -> str:
    """``url`` normalised (lower-case scheme/host, no trailing slash); https only."""
    raw = url.strip()
    if not raw:
        raise GatewayError(f"No gateway URL is set: pick a region in {PREFS_HINT}.")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise GatewayError(f"The gateway URL {raw!r} is not valid: {exc}.") from None
    if parts.scheme.lower() != "https":
        shown = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise GatewayError(
            f"The gateway URL must start with https:// (got {shown}): "
            "the gateway only speaks HTTPS, and the API key must not travel in clear."
        )
    if not parts.hostname:
        raise GatewayError(f"The gateway URL {raw!r} has no host name.")
    if parts.username or parts.password:
        raise GatewayError("The gateway URL must not contain a user name or password.")
    if parts.query or parts.fragment:
        raise GatewayError(f"The gateway URL {raw!r} must not have a query (?) or fragment (#).")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return f"https://{netloc}{parts.path.rstrip('/')}"


def resolve_base_url(region: str, custom_url: str, env: Mapping[str, str]) -> str:
    """The base URL to use: ``GEN404_GATEWAY_URL`` if set, else the region's (or custom)."""
    override = env.get(ENV_GATEWAY_URL, "").strip()
    if override:
        try:
            return validate_base_url(override)
        except GatewayError as exc:  # the environment's fault, not the preferences'
            raise GatewayError(
                f"{ENV_GATEWAY_URL} is not a usable gateway URL: {exc} "
                f"Fix or unset {ENV_GATEWAY_URL} in the environment Blender starts from."
            ) from None
    if region == CUSTOM_REGION:
        return validate_base_url(custom_url)
    if region not in REGIONS:
        raise GatewayError(f"Unknown gateway region {region!r}: pick one in {PREFS_HINT}.")
    return validate_base_url(REGIONS[region][1])


def url_hint(env: Mapping[str, str]) -> str:
    """Where the user sets the gateway URL now: the environment override, or Preferences."""
    if env.get(ENV_GATEWAY_URL, "").strip():
        return f"{ENV_GATEWAY_URL} (set in the environment)"
    return f"the gateway region in {PREFS_HINT}"


def resolve_api_key(pref_key: str, env: Mapping[str, str]) -> str:
    """The key from Preferences, else ``GEN404_API_KEY``; empty when neither is set."""
    return pref_key.strip() or env.get(ENV_API_KEY, "").strip()


def host_of(url: str) -> str:
    """``host`` or ``host:port`` of a URL, for messages (never user info)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return "?"
    host = parts.hostname or "?"
    return f"{host}:{port}" if port is not None else host


KEY_EXAMPLE = "123e4567-e89b-12d3-a456-426614174000"


def key_problem(api_key: str) -> str | None:
    """Why ``api_key`` cannot be sent (never quoting it); None when it looks right."""
    key = api_key.strip()
    if not key:
        return f"No API key is set: enter it in {PREFS_HINT} (or set GEN404_API_KEY)."
    if not is_uuid(key):
        return (
            f"The API key is not valid: a 404 key looks like {KEY_EXAMPLE} (36 characters). "
            f"Copy it again from your 404 account into {PREFS_HINT}."
        )
    return None


def is_uuid(s: str) -> bool:
    """True for a hyphenated UUID (the form the gateway uses for keys and task ids)."""
    if not isinstance(s, str) or len(s) != 36:
        return False
    try:
        return str(uuid.UUID(s)) == s.lower()
    except ValueError:
        return False


def check_task_id(task_id: str) -> str:
    """``task_id`` in lower case, or GatewayError when it is not a UUID.

    Everything from the server is untrusted: an id is checked before it reaches a
    file name or a URL.
    """
    if not is_uuid(task_id):
        shown = repr(task_id) if isinstance(task_id, str) else type(task_id).__name__
        raise GatewayError(f"{shown[:60]} is not a task id (expected a UUID).")
    return task_id.lower()
