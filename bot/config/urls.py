"""Small facts about URLs, kept apart from settings so `oscbot check` stays light."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback(url: str) -> bool:
    """True when the URL's host is localhost or a loopback address."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Microsoft Graph national cloud deployments (learn.microsoft.com/graph/deployments): each
# cloud's Graph host, its name, and the Entra endpoint its tokens come from. Tokens of one
# cloud are not accepted by another ("not interchangeable").
GRAPH_CLOUDS: dict[str, tuple[str, str]] = {
    "graph.microsoft.com": ("the global service", "https://login.microsoftonline.com"),
    "graph.microsoft.us": ("US Government L4 (GCC High)", "https://login.microsoftonline.us"),
    "dod-graph.microsoft.us": ("US Government L5 (DoD)", "https://login.microsoftonline.us"),
    "microsoftgraph.chinacloudapi.cn": ("China operated by 21Vianet",
                                        "https://login.chinacloudapi.cn"),
}


def graph_cloud(url: str) -> tuple[str, str] | None:
    """(cloud name, Entra login host) of a Microsoft Graph URL, or None when the host is
    not one of Microsoft's Graph hosts."""
    return GRAPH_CLOUDS.get((urlsplit(url).hostname or "").lower())


def login_cloud(token_url: str) -> str | None:
    """The name of the cloud whose Entra login host a token URL uses, or None when it is
    not one of Microsoft's (for login.microsoftonline.us: both US Government clouds)."""
    parts = urlsplit(token_url)
    login = f"{parts.scheme}://{(parts.hostname or '').lower()}"
    names = [name for name, host in GRAPH_CLOUDS.values() if host == login]
    return " or ".join(names) if names else None
