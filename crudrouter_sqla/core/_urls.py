"""Database URLs as they may be shown: with the password and every query parameter that names a
secret hidden."""

from urllib.parse import quote, quote_plus

from sqlalchemy.engine import URL

HIDDEN = "***"

SECRET_WORDS = ("password", "passwd", "pwd", "passphrase", "secret", "token", "apikey")
"""A query parameter whose name, lower-cased and without ``_`` and ``-``, contains one of these
(``password``, ``sslpassword``, ``ssl_key_password``, ``client_secret``, ``auth_token``,
``api-key``...) or is ``pass``, holds a secret. Paths to key and certificate files (``sslkey``,
``sslcert``) are not secrets, and are shown: they are what one checks when TLS fails."""


def is_secret(parameter: str) -> bool:
    """Whether a URL query parameter of this name holds a secret (see `SECRET_WORDS`)."""
    name = parameter.lower().replace("_", "").replace("-", "")
    return name == "pass" or any(word in name for word in SECRET_WORDS)


def _values(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else value


def redacted_url(url: URL) -> str:
    """The URL as text with its password and the values of its secret query parameters shown
    as ``***``, safe to log or put in an error message."""
    shown = url.set(query={}).render_as_string(hide_password=True)
    if not url.query:
        return shown
    # The order and quoting of SQLAlchemy's own rendering, with secrets replaced.
    query = "&".join(
        f"{quote_plus(key)}={HIDDEN if is_secret(key) else quote_plus(value)}"
        for key in sorted(url.query)
        for value in _values(url.query[key])
    )
    return f"{shown}?{query}"


def redact_secrets(text: str, url: URL) -> str:
    """``text`` (such as a driver's error message) with every secret of ``url`` replaced by
    ``***``: its password and the values of its secret query parameters, as given or quoted."""
    secrets = {str(url.password)} if url.password else set()
    for key, value in url.query.items():
        if is_secret(key):
            secrets.update(v for v in _values(value) if v)
    # Longest first, so that a secret containing another is replaced whole.
    for secret in sorted(secrets, key=len, reverse=True):
        for spelling in (secret, quote(secret, safe=""), quote_plus(secret)):
            text = text.replace(spelling, HIDDEN)
    return text
