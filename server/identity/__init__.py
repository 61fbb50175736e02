"""Who a visitor is: tokens signed by the site's backend, and server-signed anonymous ids (pure)."""
