"""Settings of the Teams and Slack channels, read from environment variables in one place.

A channel whose required variables are unset (or empty) is *off*: `from_env` returns None,
the server still starts, and the channel's webhook answers 503. See docs/channels.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

# The channels turn a Teams or Slack locale into the conversation's language hint with the
# project's one locale rule; re-exported here for the channel modules that import it.
from components.language import language_from_locale

__all__ = ["SlackSettings", "TeamsSettings", "language_from_locale"]

# Microsoft's public cloud. The China cloud (21Vianet) uses other hosts: see docs/channels.md.
BOTFRAMEWORK_OPENID_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
BOTFRAMEWORK_TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
BOTFRAMEWORK_SCOPE = "https://api.botframework.com/.default"
BOTFRAMEWORK_ISSUER = "https://api.botframework.com"
MULTI_TENANT = "botframework.com"
SLACK_API_URL = "https://slack.com/api/"


def _get(env: Mapping[str, str], name: str, default: str = "") -> str:
    return (env.get(name) or default).strip()


def _list(env: Mapping[str, str], name: str) -> frozenset[str]:
    return frozenset(item.strip() for item in _get(env, name).split(",") if item.strip())


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    value = _get(env, name)
    return float(value) if value else default


@dataclass(frozen=True)
class TeamsSettings:
    """Microsoft Teams through the Bot Framework (Azure Bot resource)."""

    app_id: str
    app_password: str
    tenant_id: str = MULTI_TENANT  # the bot's tenant for a single-tenant app registration
    token_url: str = BOTFRAMEWORK_TOKEN_URL.format(tenant=MULTI_TENANT)
    token_scope: str = BOTFRAMEWORK_SCOPE
    openid_url: str = BOTFRAMEWORK_OPENID_URL
    issuers: tuple[str, ...] = (BOTFRAMEWORK_ISSUER,)
    allowed_tenants: frozenset[str] = frozenset()  # empty: every tenant
    keys_min_refresh_s: float = 60.0  # at most one JWKS fetch per this for unknown kids
    keys_max_age_s: float = 24 * 3600.0  # keys refetched (lazily) after this
    http_timeout_s: float = 10.0
    max_retries: int = 3  # extra attempts on 429/5xx/connection errors per reply

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> TeamsSettings | None:
        app_id, password = _get(env, "TEAMS_APP_ID"), _get(env, "TEAMS_APP_PASSWORD")
        if not app_id or not password:
            return None
        tenant = _get(env, "TEAMS_TENANT_ID", MULTI_TENANT)
        return cls(
            app_id=app_id,
            app_password=password,
            tenant_id=tenant,
            token_url=_get(env, "TEAMS_TOKEN_URL", BOTFRAMEWORK_TOKEN_URL).format(tenant=tenant),
            token_scope=_get(env, "TEAMS_TOKEN_SCOPE", BOTFRAMEWORK_SCOPE),
            openid_url=_get(env, "TEAMS_OPENID_URL", BOTFRAMEWORK_OPENID_URL),
            issuers=tuple(sorted(_list(env, "TEAMS_ISSUERS"))) or (BOTFRAMEWORK_ISSUER,),
            allowed_tenants=_list(env, "TEAMS_ALLOWED_TENANTS"),
            keys_min_refresh_s=_float(env, "TEAMS_KEYS_MIN_REFRESH_SECONDS", 60.0),
            http_timeout_s=_float(env, "TEAMS_HTTP_TIMEOUT_SECONDS", 10.0),
            max_retries=int(_float(env, "TEAMS_MAX_RETRIES", 3)),
        )


@dataclass(frozen=True)
class SlackSettings:
    """A Slack app using the Events API and interactivity (HTTP, not Socket Mode)."""

    bot_token: str
    signing_secret: str
    api_url: str = SLACK_API_URL
    allowed_teams: frozenset[str] = frozenset()  # workspace ids; empty: every workspace
    timestamp_window_s: float = 300.0
    dedup_ttl_s: float = 3600.0  # Slack retries within minutes; an hour is ample
    redis_url: str = ""  # de-duplication shared by replicas when set
    locale_cache_s: float = 24 * 3600.0
    http_timeout_s: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SlackSettings | None:
        token, secret = _get(env, "SLACK_BOT_TOKEN"), _get(env, "SLACK_SIGNING_SECRET")
        if not token or not secret:
            return None
        api_url = _get(env, "SLACK_API_URL", SLACK_API_URL)
        return cls(
            bot_token=token,
            signing_secret=secret,
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            allowed_teams=_list(env, "SLACK_ALLOWED_TEAMS"),
            timestamp_window_s=_float(env, "SLACK_TIMESTAMP_WINDOW_SECONDS", 300.0),
            dedup_ttl_s=_float(env, "SLACK_DEDUP_TTL_SECONDS", 3600.0),
            redis_url=_get(env, "REDIS_URL"),
            locale_cache_s=_float(env, "SLACK_LOCALE_CACHE_SECONDS", 24 * 3600.0),
            http_timeout_s=_float(env, "SLACK_HTTP_TIMEOUT_SECONDS", 10.0),
        )
