"""Who may start a chat, and what a new chat's metadata may say: the first message's
product, store and customer fields fill the chat both parties see."""

from __future__ import annotations

from dataclasses import dataclass

from slychat.domain import web_urls
from slychat.domain.errors import Forbidden, Invalid
from slychat.domain.identity import Role, User
from slychat.domain.models import ChatDetails


@dataclass(frozen=True, slots=True)
class NewChatPolicy:
    starters: frozenset[Role] = frozenset({Role.CUSTOMER})
    # When not empty, metadata URLs must point at one of these hosts (or a subdomain).
    media_hosts: tuple[str, ...] = ()

    def may_start(self, sender: User) -> bool:
        return sender.role in self.starters

    def check(self, sender: User, details: ChatDetails, *, any_starter: bool = False) -> None:
        """Refuse a first message that may not create its chat; `any_starter` (the
        platform acting for the sender) skips only the starter rule."""
        if not any_starter and not self.may_start(sender):
            recipient = sender.role.counterpart.value.lower()
            raise Forbidden(
                f"A {sender.role.value.lower()} cannot start a chat; a {recipient} starts it"
            )
        missing = [
            name
            for name, value in (
                ("productName", details.product_name),
                ("storeName", details.store_name),
                ("customerName", details.customer_name),
            )
            if not value
        ]
        if missing:
            raise Invalid(f"A new chat needs {', '.join(missing)}")
        for name, url in (
            ("productImageUrl", details.product_image_url),
            ("storeLogoUrl", details.store_logo_url),
            ("customerProfilePic", details.customer_profile_pic),
        ):
            if url is not None and not self._allowed_host(url):
                raise Invalid(f"Invalid data provided: {name}: this host is not allowed")

    def _allowed_host(self, url: str) -> bool:
        if not self.media_hosts:
            return True
        # The host a browser fetches from: any URL read otherwise by Python is refused.
        parsed = web_urls.parse(url)
        return parsed is not None and parsed.is_on(self.media_hosts)
