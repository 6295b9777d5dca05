"""The interfaces: the `journey` command line (and, later, the web app and MCP server)."""
