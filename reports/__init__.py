"""Renderers of the analysis Summary: text, markdown, html, json (planned: issue 10). No I/O."""
