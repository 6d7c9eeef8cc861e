"""The pure call engine: the account, call sessions and their parties, the
rules that change them (flows, queues, transfers, actions) and their
RingCentral JSON shapes (wire). No I/O; clock, RNG and event sink are injected.
May import only telephony.simulator.defaults, never another sub-package.
"""
