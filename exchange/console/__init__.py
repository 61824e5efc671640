"""``sigx console``: a web console for a member's analysts, an operator or an auditor.

The console is only a client of the exchange: it talks gRPC with the credentials it was started with
(and, for a member, reads and writes the member's own match index), so it can show and do nothing the
CLI could not. The role in those credentials decides which pages exist at all: a member's console has
no operator routes, and the exchange would refuse their calls anyway.

Layout: ``auth`` (one-time login token, sessions, CSRF), ``app`` (the Starlette application and the
page wrapper every route goes through), ``member``/``operator``/``auditor`` (each role's pages),
``charts`` (server-rendered SVG), ``jobs`` (long work with a progress page), ``templates/`` (Jinja2)
and ``static/`` (CSS and the small keyboard script; every page reads without it).
"""
