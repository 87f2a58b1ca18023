"""The Secretariat's offline tool: keys, import, read, verify, reply (docs/reviewer.md).

Never imports `intake`: it meets the server only through the bundle and
envelope formats in `crypto`.
"""
