"""The web interface: server-rendered pages that call the JSON API from the browser (issue 9)."""
