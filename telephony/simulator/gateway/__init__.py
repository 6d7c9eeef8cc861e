"""The WebSocket gateway (/ws): frames, subscriptions and their filters, one
outbox per socket, wsc session recovery and ClientRequests over the socket.
May import rest/ (router, tokens, error bodies), engine/ and the top-level
faults module, never floor/ or control/.
"""
