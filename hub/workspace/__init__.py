"""The workspace: `relance.yaml` validated, the database, and the plugin instances with
the HTTP clients, secrets and OAuth tokens the hub gives them."""

from hub.workspace.workspace import Workspace

__all__ = ["Workspace"]
