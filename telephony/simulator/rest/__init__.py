"""RingCentral's HTTP side: the HTTP/1.1 server, the /restapi router with its
bearer check and rate limits, OAuth, Call Control, discovery (extensions,
call queues) and presence.
May import engine/ and telephony.simulator.defaults, never floor/, gateway/ or
control/ (the floor is reached only through callbacks such as `follow_up`).
"""
