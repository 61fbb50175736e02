"""The console: where agents, authors and admins sign in and work (server-rendered, Jinja2)."""
