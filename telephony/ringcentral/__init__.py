"""RingCentral's platform as Switchboard talks to it: wire events, the REST
client (OAuth tokens as an httpx.Auth flow), the WebSocket notification
stream, the client-side rate gate and the errors. No Django, no Channels:
configuration arrives as arguments (docs/ringcentral.md)."""
