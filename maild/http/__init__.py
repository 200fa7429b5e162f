"""The read-only HTTP JSON API for helpdesks: app factory, bearer-token auth, OpenAPI document, server start/stop."""

from maild.http.app import HttpServer, build_app, start_http

__all__ = ["HttpServer", "build_app", "start_http"]
