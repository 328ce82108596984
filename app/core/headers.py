"""Security headers on every response (HTML, API and downloads), set by flask-talisman.

No template needs inline script, so scripts come from this origin only; styles may be
inline (the charts and a few pages carry ``<style>`` blocks and ``style=`` attributes);
images may be ``data:`` URIs (the EPC QR code). No page may be framed. HSTS is sent only
where the site is served over TLS (``SECURITY_HSTS``, on in production); TLS itself ends
at the proxy, so no redirect to https is made here.
"""

from flask import Flask
from flask_talisman import Talisman

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
}

talisman = Talisman()


def init_security_headers(app: Flask) -> None:
    hsts = app.config.get("SECURITY_HSTS", False)
    talisman.init_app(
        app,
        force_https=False,
        strict_transport_security=hsts,
        strict_transport_security_max_age=31_536_000,
        strict_transport_security_include_subdomains=True,
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
        session_cookie_secure=app.config.get("SESSION_COOKIE_SECURE", False),
        session_cookie_http_only=True,
        permissions_policy={"geolocation": "()", "camera": "()", "microphone": "()"},
    )
